using System.Globalization;
using AgentBus.Contracts;

namespace AgentBus.Policy.Engine;

/// <summary>How two policies' decisions on one proposal relate: the live one and a candidate's (shadow mode, replay).</summary>
public static class DecisionComparison
{
    public const string Agreed = "agreed";

    /// <summary>Different decisions: allowed, denied or approval_required.</summary>
    public const string Decision = "decision";

    /// <summary>The same decision, by another rule or for another reason.</summary>
    public const string Rule = "rule";

    /// <summary>Both permit, with different limits, budgets, estimated cost or approval.</summary>
    public const string Terms = "terms";

    /// <summary>The kind of disagreement and, for terms, what differs ("agent calls per minute 60 → 10"); <see cref="Agreed"/> and null when none.</summary>
    public static (string Kind, string? Detail) Compare(PolicyDecision live, PolicyDecision candidate)
    {
        if (live.Decision != candidate.Decision)
            return (Decision, null);
        if (live.ReasonCode != candidate.ReasonCode || live.RuleId != candidate.RuleId)
            return (Rule, null);
        var differences = new List<string>();
        if (live.Approval is { } a && candidate.Approval is { } b && (a.RuleId != b.RuleId || a.Group != b.Group || a.Approvers != b.Approvers || a.Expiry != b.Expiry))
            differences.Add($"approval {a.Approvers} of '{a.Group}' within {a.Expiry} → {b.Approvers} of '{b.Group}' within {b.Expiry}");
        if (live.Terms is { } x && candidate.Terms is { } y)
        {
            Differ(differences, "estimated cost USD", x.EstimatedCostUsd, y.EstimatedCostUsd);
            Differ(differences, "agent calls per minute", x.AgentCallsPerMinute?.Value, y.AgentCallsPerMinute?.Value);
            Differ(differences, "tool calls per minute", x.ToolCallsPerMinute?.Value, y.ToolCallsPerMinute?.Value);
            Differ(differences, "operation calls per minute", x.OperationCallsPerMinute?.Value, y.OperationCallsPerMinute?.Value);
            Differ(differences, "run tool calls", x.RunToolCalls?.Value, y.RunToolCalls?.Value);
            Differ(differences, "run retries", x.RunRetries?.Value, y.RunRetries?.Value);
            Differ(differences, "run duration", x.RunDuration?.Value, y.RunDuration?.Value);
            Differ(differences, "budget per day USD", x.PerDayUsd?.Value, y.PerDayUsd?.Value);
            Differ(differences, "budget per run USD", x.PerRunUsd?.Value, y.PerRunUsd?.Value);
        }
        return differences.Count == 0 ? (Agreed, null) : (Terms, string.Join("; ", differences));
    }

    /// <summary>"allowed→denied", the name of a change of decision (replay's transitions, shadow's report).</summary>
    public static string Transition(Decision from, Decision to) => $"{Short(from)}→{Short(to)}";

    /// <summary>allowed, denied, approval: the three decisions as transitions name them.</summary>
    public static string Short(Decision decision) => decision switch
    {
        Contracts.Decision.Allowed => "allowed",
        Contracts.Decision.Denied => "denied",
        _ => "approval",
    };

    static void Differ<T>(List<string> differences, string what, T? live, T? candidate)
    {
        if (!EqualityComparer<T?>.Default.Equals(live, candidate))
            differences.Add($"{what} {Text(live)} → {Text(candidate)}");
    }

    static string Text<T>(T? value) => value switch
    {
        null => "unlimited",
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
