using System.Text.Json;
using System.Text.Json.Nodes;
using AgentBus.Contracts;
using AgentBus.Catalog.Yaml;
using YamlDotNet.Core;
using YamlDotNet.Serialization;

namespace AgentBus.Policy.Engine;

/// <summary>
/// Table-driven expectations for a policy (`agentbus policy test FILE CASES`): each case is a
/// proposal and the decision (and optionally the rule and reason code) the policy must give it.
/// Evaluated by the pure evaluator with fresh state: rates and budgets are not in play.
/// </summary>
public sealed class PolicyCases
{
    public List<Case> Cases { get; set; } = [];

    public sealed class Case : IHasLine
    {
        public string Name { get; set; } = "";
        public ProposalEntry Proposal { get; set; } = new();

        /// <summary>The AMQP user_id; defaults to the proposal's agentId.</summary>
        public string? BrokerUser { get; set; }

        /// <summary>True: the proposal carries no user_id at all.</summary>
        public bool Anonymous { get; set; }

        public SuspendedEntry? Suspended { get; set; }
        public ExpectEntry Expect { get; set; } = new();
        public int Line { get; set; }
    }

    public sealed class ProposalEntry
    {
        public string? ActionId { get; set; }
        public string? RunId { get; set; }
        public string AgentId { get; set; } = "";
        public string Tool { get; set; } = "";
        public string? Operation { get; set; }
        public JsonNode? Arguments { get; set; }
        public string? IdempotencyKey { get; set; }
        public string? Intent { get; set; }
        public string? Compensates { get; set; }
    }

    public sealed class SuspendedEntry
    {
        public List<string> Agents { get; set; } = [];
        public List<string> Tools { get; set; } = [];
    }

    public sealed class ExpectEntry
    {
        public string Decision { get; set; } = "";
        public string? Rule { get; set; }
        public string? ReasonCode { get; set; }
    }

    public sealed record Result(Case Case, string Actual, string? ActualRule, string ActualReasonCode, string Reason, bool Passed);

    static readonly IDeserializer Yaml = YamlReading.Deserializer();

    static readonly IReadOnlyList<string> Decisions = DecisionNames.All;

    /// <summary>Reads a cases file; problems come back as "file:line: what is wrong".</summary>
    public static (PolicyCases? Cases, IReadOnlyList<string> Errors) Load(string text, string source)
    {
        PolicyCases? cases;
        try
        {
            cases = Yaml.Deserialize<PolicyCases>(text);
        }
        catch (YamlException ex)
        {
            return (null, [$"{source}:{ex.Start.Line}: {YamlReading.Describe(ex)}"]);
        }
        if (cases is null || cases.Cases.Count == 0)
            return (null, [$"{source}: no cases: the file needs a 'cases:' list."]);

        var errors = new List<string>();
        foreach (var c in cases.Cases)
        {
            if (string.IsNullOrWhiteSpace(c.Name))
                errors.Add($"{source}:{c.Line}: a case has no name.");
            if (!Decisions.Contains(c.Expect.Decision))
                errors.Add($"{source}:{c.Line}: case '{c.Name}': expect.decision must be one of {string.Join(", ", Decisions)}.");
        }
        return errors.Count > 0 ? (null, errors) : (cases, []);
    }

    public static ActionProposed ToProposal(ProposalEntry entry) => new(
        entry.ActionId ?? "00000000-0000-7000-8000-000000000000",
        entry.RunId ?? "policy-test",
        entry.AgentId,
        entry.Tool,
        entry.Arguments is null ? JsonDocument.Parse("{}").RootElement.Clone() : JsonSerializer.SerializeToElement(entry.Arguments),
        entry.IdempotencyKey,
        entry.Intent,
        entry.Operation,
        entry.Compensates);

    public IReadOnlyList<Result> Run(PolicySnapshot policy, DateTimeOffset now)
    {
        var results = new List<Result>();
        foreach (var c in Cases)
        {
            var proposal = ToProposal(c.Proposal);
            var brokerUser = c.Anonymous ? null : c.BrokerUser ?? proposal.AgentId;
            var suspended = c.Suspended is { } s ? new SuspensionSet(s.Agents, s.Tools) : SuspensionSet.None;
            var decision = PolicyEvaluator.Evaluate(proposal, brokerUser, policy, new EvaluationState(now, suspended));
            var actual = decision.Decision.WireName();
            var passed = actual == c.Expect.Decision
                         && (c.Expect.Rule is null || c.Expect.Rule == decision.RuleId)
                         && (c.Expect.ReasonCode is null || c.Expect.ReasonCode == decision.ReasonCode);
            results.Add(new(c, actual, decision.RuleId, decision.ReasonCode, decision.Reason, passed));
        }
        return results;
    }
}
