using System.Text.Json.Nodes;
using AgentBus.DataBoundaries;
using AgentBus.Policy.Engine.Rules;
using Json.Schema;

namespace AgentBus.Policy.Engine;

/// <summary>A loaded, checked and compiled policy, immutable so evaluation needs no locks.</summary>
public sealed class PolicySnapshot
{
    /// <summary>"sha256:…" of the file's bytes: two instances with the same file report the same version.</summary>
    public required string Version { get; init; }

    public required string Source { get; init; }
    public required IReadOnlyDictionary<string, AgentPolicy> Agents { get; init; }
    public required IReadOnlyDictionary<string, ToolPolicy> Tools { get; init; }
    /// <summary>Keyed by agent, tool and operation ("" for a generic tool): a grant covering several operations appears once per operation.</summary>
    public required IReadOnlyDictionary<(string Agent, string Tool, string Operation), GrantPolicy> Grants { get; init; }

    /// <summary>The operation catalog the policy names (empty when it names none); part of <see cref="Version"/>.</summary>
    public ToolCatalog Catalog { get; init; } = ToolCatalog.Empty;

    /// <summary>The catalog folder's full path, so the policy service can notice when a file in it changes.</summary>
    public string? CatalogDirectory { get; init; }

    /// <summary>Team id → its members' approver names (lower case); teams the file does not list have none.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Teams { get; init; } = new Dictionary<string, IReadOnlyList<string>>();
}

public sealed class AgentPolicy
{
    public required string Id { get; init; }
    public required string Team { get; init; }

    /// <summary>The person the agent acts for (lower case), or null when the policy names none.</summary>
    public string? Owner { get; init; }

    /// <summary>Suspended in the policy file itself (status: suspended), as opposed to by an operator.</summary>
    public bool Suspended { get; init; }

    /// <summary>A rollback identity: every proposal it makes must undo a succeeded action (see <c>compensates</c>), and only it may make such proposals.</summary>
    public bool Rollback { get; init; }

    /// <summary>The classes of sensitive data it may receive in results (sorted); the executor masks the rest.</summary>
    public IReadOnlyList<string> Receives { get; init; } = [];

    public int Line { get; init; }
}

public sealed class ToolPolicy
{
    public required string Name { get; init; }
    public required IReadOnlyList<string> Capabilities { get; init; }
    public required string Risk { get; init; }
    public decimal UnitCostUsd { get; init; }
    /// <summary>Built once when the policy version loads, and evaluated by JsonSchema.Net for every proposal.</summary>
    public JsonSchema? ArgumentSchema { get; init; }
    public JsonNode? ArgumentSchemaJson { get; init; }

    /// <summary>Pointers into the arguments that name where data goes.</summary>
    public IReadOnlyList<ArgumentPointer> DestinationArguments { get; init; } = [];

    public DestinationAllowList? Destinations { get; init; }

    /// <summary>A generic tool's: what sensitive data its arguments may carry (a catalog tool's operations carry their own).</summary>
    public DataBoundary DataBoundary { get; init; } = DataBoundary.Closed;

    public bool Suspended { get; init; }
    public int Line { get; init; }

    /// <summary>A catalog tool's operations by name; empty for a generic tool, whose proposals name no operation.</summary>
    public IReadOnlyDictionary<string, CatalogOperation> Operations { get; init; } = new Dictionary<string, CatalogOperation>();

    /// <summary>Where the tool is defined: the policy file, or its catalog file.</summary>
    public string? Source { get; init; }
}

public sealed class GrantPolicy
{
    public required string Id { get; init; }
    public required string Agent { get; init; }
    public required string Tool { get; init; }

    /// <summary>The catalog operation this entry covers; null for a generic tool.</summary>
    public CatalogOperation? Operation { get; init; }

    /// <summary>"payments.refund", or the tool's name for a generic tool.</summary>
    public string Subject => Operation?.FullName ?? Tool;

    public required IReadOnlyList<ArgumentPredicate> Constraints { get; init; }
    public DestinationAllowList? Destinations { get; init; }

    /// <summary>What sensitive data the arguments may carry: the operation's (or generic tool's), narrowed by the grant.</summary>
    public required DataBoundary DataBoundary { get; init; }

    /// <summary>Where <see cref="DataBoundary"/> was set: the grant when it narrowed it, else the operation or tool.</summary>
    public required string DataBoundaryRuleId { get; init; }

    public ApprovalPolicy? Approval { get; init; }
    public required AdmissionTerms Terms { get; init; }
    public int Line { get; init; }

    /// <summary>Built once at load: the allowed decision costs nothing to hand out.</summary>
    public required PolicyDecision Allow { get; init; }
}

public sealed class ApprovalPolicy
{
    public required string RuleId { get; init; }
    public required IReadOnlyList<ArgumentPredicate> When { get; init; }
    public required string Group { get; init; }
    public required int Approvers { get; init; }
    public required TimeSpan Expiry { get; init; }
    public int Line { get; init; }

    /// <summary>The requester of this grant's approvals: the agent's owner, or the agent id when it has none.</summary>
    public required string RequestedBy { get; init; }

    public required string AgentTeam { get; init; }

    /// <summary>Resolved at load: the agent's team members when the rule excludes the team (excludeTeam, on by default).</summary>
    public required IReadOnlyList<string> ExcludedApprovers { get; init; }

    public string? EscalationGroup { get; init; }
    public TimeSpan? EscalationDelay { get; init; }

    /// <summary>The decision's sentence, built once at load (it depends on the grant only).</summary>
    public required string Reason { get; init; }

    public bool Applies(System.Text.Json.JsonElement arguments)
    {
        foreach (var term in When)
            if (!term.Matches(arguments))
                return false;
        return true;
    }

    public string DescribeCondition() => When.Count == 0 ? "always" : string.Join(" and ", When.Select(w => w.Describe()));
}
