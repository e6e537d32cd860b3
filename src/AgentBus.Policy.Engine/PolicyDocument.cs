using System.Text.Json.Nodes;
using AgentBus.Catalog.Yaml;

namespace AgentBus.Policy.Engine;

/// <summary>The policy file as written (YAML); docs/policy.md and ops/policies/README.md describe the format.</summary>
public sealed class PolicyDocument
{
    public List<AgentEntry> Agents { get; set; } = [];

    /// <summary>Teams and their people: who owns an agent, for separation of duties on approvals.</summary>
    public List<TeamEntry> Teams { get; set; } = [];

    /// <summary>
    /// The operation catalog folder (one TOOL.yaml per tool), relative to the policy file: its
    /// tools and operations are the policy's, and grants name their operations.
    /// </summary>
    public string? Catalog { get; set; }

    /// <summary>Generic tools without operations (their arguments name the call themselves, e.g. a URL).</summary>
    public List<ToolEntry> Tools { get; set; } = [];
    public List<GrantEntry> Grants { get; set; } = [];
    public LimitsSection? Limits { get; set; }
    public BudgetsSection? Budgets { get; set; }

    public sealed class AgentEntry : IHasLine
    {
        public string Id { get; set; } = "";
        public string Team { get; set; } = "";

        /// <summary>The person the agent acts for: the requester of its approvals, who may not approve them.</summary>
        public string? Owner { get; set; }

        /// <summary>active (default) or suspended.</summary>
        public string? Status { get; set; }

        /// <summary>A rollback identity: it may only propose compensations of succeeded actions (agentbus runs rollback).</summary>
        public bool Rollback { get; set; }

        /// <summary>
        /// The classes of sensitive data the agent may receive in results (pii.email, …); anything else
        /// the executor finds in a result is masked before the agent sees it. None listed: it receives none.
        /// </summary>
        public List<string>? Receives { get; set; }

        public int Line { get; set; }
    }

    public sealed class TeamEntry : IHasLine
    {
        public string Id { get; set; } = "";

        /// <summary>Approver names (as `agentbus approvers add` stores them) of the team's people.</summary>
        public List<string> Members { get; set; } = [];

        public int Line { get; set; }
    }

    public sealed class ToolEntry : IHasLine
    {
        public string Name { get; set; } = "";
        public List<string> Capabilities { get; set; } = [];

        /// <summary>low, medium (default), high or critical.</summary>
        public string? Risk { get; set; }

        public decimal UnitCostUsd { get; set; }

        /// <summary>JSON Schema (draft 2020-12) of the arguments, written in YAML.</summary>
        public JsonNode? Arguments { get; set; }

        public DestinationsEntry? Destinations { get; set; }

        /// <summary>The classes of sensitive data the arguments may carry, as a catalog operation's accepts; none listed: nothing.</summary>
        public List<string>? Accepts { get; set; }

        /// <summary>Class → the most matches one call may carry.</summary>
        public Dictionary<string, int>? Max { get; set; }

        /// <summary>active (default) or suspended.</summary>
        public string? Status { get; set; }

        public int Line { get; set; }
    }

    /// <summary>Where in the arguments a tool names the places it sends data, and which places are allowed.</summary>
    public sealed class DestinationsEntry : IHasLine
    {
        /// <summary>JSON Pointers into the arguments; '*' matches every array item or object member.</summary>
        public List<string> From { get; set; } = [];

        public List<string> Hosts { get; set; } = [];
        public List<string> UrlPrefixes { get; set; } = [];
        public List<string> Channels { get; set; } = [];
        public int Line { get; set; }
    }

    public sealed class AllowListEntry : IHasLine
    {
        public List<string> Hosts { get; set; } = [];
        public List<string> UrlPrefixes { get; set; } = [];
        public List<string> Channels { get; set; } = [];
        public int Line { get; set; }
    }

    public sealed class GrantEntry : IHasLine
    {
        public string Id { get; set; } = "";
        public string Agent { get; set; } = "";
        public string Tool { get; set; } = "";

        /// <summary>Operations of a catalog tool this grant covers (refund, get_order); none listed: all of them.</summary>
        public List<string>? Operations { get; set; }

        public List<PredicateEntry> Constraints { get; set; } = [];

        /// <summary>Narrows the tool's destinations for this agent.</summary>
        public AllowListEntry? Destinations { get; set; }

        /// <summary>Narrows what sensitive data the covered operations accept, for this agent: a subset of theirs.</summary>
        public List<string>? Accepts { get; set; }

        /// <summary>Lowers the operations' limits (or sets one) for this agent.</summary>
        public Dictionary<string, int>? Max { get; set; }

        public ApprovalEntry? Approval { get; set; }
        public int Line { get; set; }
    }

    /// <summary>One test on one argument: a grant constraint (must hold) or part of an approval condition.</summary>
    public sealed class PredicateEntry : IHasLine
    {
        public string? Id { get; set; }

        /// <summary>JSON Pointer into the arguments, e.g. /body/amountUsd.</summary>
        public string Argument { get; set; } = "";

        public decimal? Min { get; set; }
        public decimal? Max { get; set; }
        public decimal? Above { get; set; }
        public decimal? Below { get; set; }
        public List<string>? In { get; set; }
        public string? Pattern { get; set; }
        public int? MaxLength { get; set; }

        /// <summary>A constraint on an argument that is absent holds only when this is true.</summary>
        public bool Optional { get; set; }

        public int Line { get; set; }
    }

    public sealed class ApprovalEntry : IHasLine
    {
        public string? Id { get; set; }

        /// <summary>All must hold for approval to be needed; none means every call needs approval.</summary>
        public List<PredicateEntry> When { get; set; } = [];

        public string Group { get; set; } = "";

        /// <summary>How many distinct approvers must agree.</summary>
        public int Approvers { get; set; } = 1;

        /// <summary>How long approvers have, e.g. 30m, 1h, 1d.</summary>
        public string Expires { get; set; } = "1h";

        /// <summary>Separation of duties: members of the agent's team (see teams) may not approve. Always; false is refused.</summary>
        public bool ExcludeTeam { get; set; } = true;

        /// <summary>After a delay, a second group may approve too.</summary>
        public EscalationEntry? Escalate { get; set; }

        public int Line { get; set; }
    }

    public sealed class EscalationEntry : IHasLine
    {
        public string Group { get; set; } = "";

        /// <summary>How long the first group has alone, e.g. 15m; less than the approval's expiry.</summary>
        public string After { get; set; } = "";

        public int Line { get; set; }
    }

    public sealed class LimitsSection : IHasLine
    {
        public AgentLimitsEntry? Default { get; set; }
        public Dictionary<string, AgentLimitsEntry> Agents { get; set; } = [];
        public Dictionary<string, ToolLimitsEntry> Tools { get; set; } = [];

        /// <summary>Per catalog operation, by its full name (payments.refund), beside the tool's and the agent's.</summary>
        public Dictionary<string, ToolLimitsEntry> Operations { get; set; } = [];

        public int Line { get; set; }
    }

    public sealed class AgentLimitsEntry : IHasLine
    {
        public int? CallsPerMinute { get; set; }
        public RunLimitsEntry? Run { get; set; }
        public int Line { get; set; }
    }

    public sealed class RunLimitsEntry : IHasLine
    {
        public int? MaxToolCalls { get; set; }
        public int? MaxRetries { get; set; }
        public string? MaxDuration { get; set; }
        public int Line { get; set; }
    }

    public sealed class ToolLimitsEntry : IHasLine
    {
        public int? CallsPerMinute { get; set; }
        public int Line { get; set; }
    }

    public sealed class BudgetsSection : IHasLine
    {
        public BudgetEntry? Default { get; set; }
        public Dictionary<string, BudgetEntry> Agents { get; set; } = [];
        public int Line { get; set; }
    }

    public sealed class BudgetEntry : IHasLine
    {
        public decimal? PerDayUsd { get; set; }
        public decimal? PerRunUsd { get; set; }
        public int Line { get; set; }
    }
}
