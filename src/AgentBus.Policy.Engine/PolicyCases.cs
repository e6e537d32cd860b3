using System.Text.Json;
using System.Text.Json.Nodes;
using AgentBus.Contracts;
using AgentBus.Catalog.Yaml;
using YamlDotNet.Core;
using YamlDotNet.Serialization;

namespace AgentBus.Policy.Engine;

/// <summary>
/// Table-driven expectations for a policy (`agentbus policy test FILE CASES`): each case is a
/// proposal and the decision (and optionally the rule and reason code) the policy must give it,
/// evaluated by the pure evaluator and then admitted into fresh state; or a <c>sequence</c> of
/// steps admitted one after another into the same state (<see cref="AdmissionModel"/>), so rates,
/// run caps, budgets and duplicates are in play. A sequence starts at 12:00:00 UTC of the day it
/// runs, on a minute boundary, so sliding windows give the same answer whenever the cases run.
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

        /// <summary>Steps decided in order against one admission state; instead of proposal and expect.</summary>
        public List<StepEntry>? Sequence { get; set; }

        public int Line { get; set; }
    }

    /// <summary>One step of a sequence: a proposal (repeated, settled) or an agent's reported spend.</summary>
    public sealed class StepEntry : IHasLine
    {
        /// <summary>Offset from the sequence's start: "+30s", "+2m", "+1h"; default the previous step's time.</summary>
        public string? At { get; set; }

        public ProposalEntry? Proposal { get; set; }

        /// <summary>Proposes it this many times (fresh action ids); "{n}" in its strings becomes 1, 2, … to make each call distinct.</summary>
        public int Repeat { get; set; } = 1;

        public string? BrokerUser { get; set; }
        public bool Anonymous { get; set; }
        public SuspendedEntry? Suspended { get; set; }

        /// <summary>What every repeat must be decided.</summary>
        public ExpectEntry? Expect { get; set; }

        /// <summary>How an admitted action ends: succeeded, failed or unknown; without it, its cost stays reserved.</summary>
        public string? Outcome { get; set; }

        /// <summary>The actual cost of a succeeded action (default: the estimate).</summary>
        public decimal? CostUsd { get; set; }

        /// <summary>Inference spend the agent reports (SpendReported), instead of a proposal.</summary>
        public SpendEntry? Spend { get; set; }

        public int Line { get; set; }
    }

    public sealed class SpendEntry
    {
        public string AgentId { get; set; } = "";
        public string? RunId { get; set; }
        public decimal AmountUsd { get; set; }
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

    /// <summary>One case, or one step of a sequence (<see cref="Step"/> names it); <see cref="Line"/> is where its expectation is.</summary>
    public sealed record Result(Case Case, string Actual, string? ActualRule, string ActualReasonCode, string Reason, bool Passed)
    {
        public string? Step { get; init; }
        public ExpectEntry Expected { get; init; } = Case.Expect;
        public int Line { get; init; } = Case.Line;
    }

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
            if (c.Sequence is null)
            {
                if (!Decisions.Contains(c.Expect.Decision))
                    errors.Add($"{source}:{c.Line}: case '{c.Name}': expect.decision must be one of {string.Join(", ", Decisions)}.");
                continue;
            }
            if (c.Sequence.Count == 0)
                errors.Add($"{source}:{c.Line}: case '{c.Name}': sequence is empty; give it steps, or use proposal and expect.");
            var previous = TimeSpan.Zero;
            foreach (var step in c.Sequence)
            {
                var at = $"{source}:{step.Line}: case '{c.Name}'";
                if ((step.Proposal is null) == (step.Spend is null))
                    errors.Add($"{at}: a step has either a proposal or a spend.");
                if (step.Proposal is not null && !(step.Expect is { } e && Decisions.Contains(e.Decision)))
                    errors.Add($"{at}: a step with a proposal needs expect.decision, one of {string.Join(", ", Decisions)}.");
                if (step.Repeat is < 1 or > 10_000)
                    errors.Add($"{at}: repeat must be between 1 and 10000.");
                if (step.Outcome is not null && !Outcomes.ContainsKey(step.Outcome))
                    errors.Add($"{at}: outcome '{step.Outcome}' is not one of {string.Join(", ", Outcomes.Keys)}.");
                if (step.CostUsd is not null && step.Outcome != "succeeded")
                    errors.Add($"{at}: costUsd is the actual cost of a succeeded action; give outcome: succeeded.");
                if (step.At is not null)
                {
                    if (!TryParseOffset(step.At, out var offset))
                        errors.Add($"{at}: at '{step.At}' is not an offset from the sequence's start such as +30s, +2m or +1h.");
                    else if (offset < previous)
                        errors.Add($"{at}: at '{step.At}' is before the previous step; steps go forward in time.");
                    else
                        previous = offset;
                }
            }
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

    static readonly Dictionary<string, ModeledOutcome> Outcomes = new(StringComparer.Ordinal)
    {
        ["succeeded"] = ModeledOutcome.Succeeded,
        ["failed"] = ModeledOutcome.Failed,
        ["unknown"] = ModeledOutcome.OutcomeUnknown,
    };

    static bool TryParseOffset(string text, out TimeSpan offset)
    {
        var trimmed = text.Trim();
        if (trimmed is "0" or "+0")
        {
            offset = TimeSpan.Zero;
            return true;
        }
        return PolicyLoader.TryParseDuration(trimmed.StartsWith('+') ? trimmed[1..] : trimmed, out offset) && offset >= TimeSpan.Zero;
    }

    public IReadOnlyList<Result> Run(PolicySnapshot policy, DateTimeOffset now)
    {
        var results = new List<Result>();
        foreach (var c in Cases)
        {
            if (c.Sequence is not null)
            {
                results.AddRange(RunSequence(c, policy, now));
                continue;
            }
            var proposal = ToProposal(c.Proposal);
            var brokerUser = c.Anonymous ? null : c.BrokerUser ?? proposal.AgentId;
            var suspended = c.Suspended is { } s ? new SuspensionSet(s.Agents, s.Tools) : SuspensionSet.None;
            var decision = Decide(new AdmissionModel(), proposal, brokerUser, policy, new EvaluationState(now, suspended));
            var actual = decision.Decision.WireName();
            var passed = actual == c.Expect.Decision
                         && (c.Expect.Rule is null || c.Expect.Rule == decision.RuleId)
                         && (c.Expect.ReasonCode is null || c.Expect.ReasonCode == decision.ReasonCode);
            results.Add(new(c, actual, decision.RuleId, decision.ReasonCode, decision.Reason, passed));
        }
        return results;
    }

    /// <summary>What the policy service answers: the evaluator's decision, then admission (envelope and identity refusals are never admitted).</summary>
    static PolicyDecision Decide(AdmissionModel state, ActionProposed proposal, string? brokerUser, PolicySnapshot policy, EvaluationState at)
    {
        var decision = PolicyEvaluator.Evaluate(proposal, brokerUser, policy, at);
        return decision.RuleId is "envelope" or "identity" ? decision : state.Admit(proposal, decision, at.Now).Decision;
    }

    IEnumerable<Result> RunSequence(Case c, PolicySnapshot policy, DateTimeOffset today)
    {
        var start = new DateTimeOffset(today.UtcDateTime.Date.AddHours(12), TimeSpan.Zero);
        var state = new AdmissionModel();
        var at = start;
        var actions = 0;
        for (var index = 0; index < c.Sequence!.Count; index++)
        {
            var step = c.Sequence[index];
            if (step.At is not null && TryParseOffset(step.At, out var offset))
                at = start + offset;
            var name = $"step {index + 1}";
            if (step.Spend is { } spend)
            {
                state.ReportSpend(spend.AgentId, spend.RunId ?? "policy-test", $"policy-test-{index + 1}", spend.AmountUsd, at);
                continue;
            }

            Result? result = null;
            for (var n = 1; n <= step.Repeat && result is not { Passed: false }; n++)
            {
                actions++;
                var proposal = ToProposal(Numbered(step.Proposal!, n));
                if (step.Proposal!.ActionId is null)
                    proposal = proposal with { ActionId = $"00000000-0000-7000-8000-{actions:D12}" };
                var brokerUser = step.Anonymous ? null : step.BrokerUser ?? proposal.AgentId;
                var suspended = step.Suspended is { } s ? new SuspensionSet(s.Agents, s.Tools) : SuspensionSet.None;
                var decision = Decide(state, proposal, brokerUser, policy, new EvaluationState(at, suspended));
                if (step.Outcome is { } outcome && decision.Decision == Decision.Allowed)
                    state.Settle(proposal.ActionId, Outcomes[outcome], step.CostUsd);

                var expect = step.Expect!;
                var actual = decision.Decision.WireName();
                var passed = actual == expect.Decision
                             && (expect.Rule is null || expect.Rule == decision.RuleId)
                             && (expect.ReasonCode is null || expect.ReasonCode == decision.ReasonCode);
                result = new Result(c, actual, decision.RuleId, decision.ReasonCode, decision.Reason, passed)
                {
                    Step = step.Repeat > 1 ? $"{name}, call {n} of {step.Repeat}" : name,
                    Expected = expect,
                    Line = step.Line,
                };
            }
            if (result is not null)
                yield return result.Passed && step.Repeat > 1 ? result with { Step = $"{name} (x{step.Repeat})" } : result;
        }
    }

    /// <summary>The proposal with "{n}" in its strings replaced by the call's number.</summary>
    static ProposalEntry Numbered(ProposalEntry entry, int n)
    {
        var number = n.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string? Text(string? text) => text?.Replace("{n}", number, StringComparison.Ordinal);
        return new ProposalEntry
        {
            ActionId = entry.ActionId, RunId = Text(entry.RunId), AgentId = entry.AgentId, Tool = entry.Tool, Operation = entry.Operation,
            Arguments = Fill(entry.Arguments), IdempotencyKey = Text(entry.IdempotencyKey), Intent = entry.Intent, Compensates = entry.Compensates,
        };

        JsonNode? Fill(JsonNode? node) => node switch
        {
            null => null,
            JsonObject o => new JsonObject(o.Select(p => KeyValuePair.Create(p.Key, Fill(p.Value)))),
            JsonArray a => new JsonArray(a.Select(Fill).ToArray()),
            JsonValue v when v.TryGetValue<string>(out var text) => JsonValue.Create(Text(text)),
            _ => node.DeepClone(),
        };
    }
}
