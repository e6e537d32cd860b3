using AgentBus.Contracts;

namespace AgentBus.Policy.Engine;

/// <summary>
/// What policy decided and why: the rule, a code for machines, a sentence for people. A decision
/// the pure steps permit carries <see cref="Terms"/>, the limits and budget the policy host must
/// still enforce against shared state, and, when a human must agree first, <see cref="Approval"/>.
/// </summary>
public sealed record PolicyDecision(Decision Decision, string ReasonCode, string Reason, string? RuleId = null)
{
    /// <summary>Set on <see cref="Decision.ApprovalRequired"/>: who must approve, how many, by when.</summary>
    public ApprovalRequirement? Approval { get; init; }

    /// <summary>Set when the pure steps permit the action: what the stateful steps still check.</summary>
    public AdmissionTerms? Terms { get; init; }

    public static PolicyDecision Deny(string reasonCode, string reason, string? ruleId = null) =>
        new(Decision.Denied, reasonCode, Printable(reason), ruleId);

    /// <summary>The operator's kill switch, in the one wording every check that reads it uses.</summary>
    public static PolicyDecision AgentSuspended(string agentId) =>
        Deny(ReasonCodes.AgentSuspended, $"Agent '{agentId}' is suspended by an operator.", "kill-switch");

    /// <inheritdoc cref="AgentSuspended"/>
    public static PolicyDecision ToolSuspended(string tool) =>
        Deny(ReasonCodes.ToolSuspended, $"Tool '{tool}' is suspended by an operator.", "kill-switch");

    /// <summary>
    /// A denial's reason often quotes what the agent sent (a field name, a value). Control characters
    /// in it are written as \uXXXX: a NUL would make PostgreSQL refuse the decision's row (and the
    /// proposal fault unanswered), a newline or an escape sequence would forge log lines.
    /// </summary>
    internal static string Printable(string text)
    {
        if (!text.Any(char.IsControl))
            return text;
        var builder = new System.Text.StringBuilder(text.Length + 16);
        foreach (var ch in text)
            builder.Append(char.IsControl(ch) ? $"\\u{(int)ch:x4}" : ch.ToString());
        return builder.ToString();
    }
}

/// <summary>
/// The approval an action needs before it may run: who may approve (the group, and the escalation
/// group after the delay), how many, by when, and who may not (the requester and, by separation of
/// duties, the agent's team). Policy sends it to the approval saga as ApprovalRequested.
/// </summary>
public sealed record ApprovalRequirement(string RuleId, string Group, int Approvers, TimeSpan Expiry, DateTimeOffset ExpiresAt)
{
    public string AgentTeam { get; init; } = "";

    /// <summary>The agent's owner (or the agent id): the requester, who may not approve.</summary>
    public string RequestedBy { get; init; } = "";

    public IReadOnlyList<string> ExcludedApprovers { get; init; } = [];
    public string? EscalationGroup { get; init; }
    public TimeSpan? EscalationDelay { get; init; }

    public DateTimeOffset RequestedAt => ExpiresAt - Expiry;
}

/// <summary>A limit and the rule that set it, so a denial can name the rule.</summary>
public sealed record RuleLimit<T>(T Value, string RuleId);

/// <summary>
/// The stateful part of a grant, resolved when the policy loads: the estimated cost to reserve,
/// per-minute rates, per-run caps and budgets. Null members are unlimited.
/// </summary>
public sealed record AdmissionTerms(
    string GrantId,
    decimal EstimatedCostUsd,
    RuleLimit<int>? AgentCallsPerMinute,
    RuleLimit<int>? ToolCallsPerMinute,
    RuleLimit<int>? RunToolCalls,
    RuleLimit<int>? RunRetries,
    RuleLimit<TimeSpan>? RunDuration,
    RuleLimit<decimal>? PerDayUsd,
    RuleLimit<decimal>? PerRunUsd,
    RuleLimit<int>? OperationCallsPerMinute = null);
