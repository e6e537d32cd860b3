using System.Text.Json;
using AgentBus.Contracts;

namespace AgentBus.Projections.Audit;

/// <summary>One event as the audit log keeps it, plus what it changes in its run's summary.</summary>
public sealed record AuditEntry(
    Guid EventId,
    string EventType,
    string? ActionId,
    string? RunId,
    string? AgentId,
    string? Tool,
    string Outcome,
    string? ReasonCode,
    string Payload,
    DateTimeOffset OccurredAt,
    RunChange Change)
{
    public static AuditEntry From(Guid eventId, ActionDecided e) => new(eventId, nameof(ActionDecided), e.ActionId, e.RunId,
        NullIfEmpty(e.AgentId), e.Tool, DecisionName(e.Decision), e.ReasonCode, Json(e), e.DecidedAt,
        e.Decision switch
        {
            Decision.Allowed => new RunChange(Allowed: 1),
            Decision.ApprovalRequired => new RunChange(Pending: 1),
            _ => new RunChange(Denied: 1),
        });

    public static AuditEntry From(Guid eventId, ActionSucceeded e) => new(eventId, nameof(ActionSucceeded), e.ActionId, e.RunId,
        e.AgentId, e.Tool, "succeeded", null, Json(e), e.CompletedAt, new RunChange(Succeeded: 1, CostUsd: e.CostUsd));

    public static AuditEntry From(Guid eventId, ActionFailed e) => new(eventId, nameof(ActionFailed), e.ActionId, e.RunId,
        e.AgentId, e.Tool, e.OutcomeUnknown ? "outcome_unknown" : "failed", e.ErrorCode, Json(e), e.FailedAt, new RunChange(Failed: 1));

    /// <summary>Who did what to which agent or tool; changes no run summary.</summary>
    public static AuditEntry From(Guid eventId, OperatorActionTaken e) => new(eventId, nameof(OperatorActionTaken), null, null,
        e.Action.StartsWith("agent.", StringComparison.Ordinal) ? e.Target : null,
        e.Action.StartsWith("tool.", StringComparison.Ordinal) ? e.Target : null,
        e.Action, null, Json(e), e.TakenAt, new RunChange());

    public static AuditEntry From(Guid eventId, ExecutionStarted e) => new(eventId, nameof(ExecutionStarted), e.ActionId, e.RunId,
        e.AgentId, e.Tool, "started", null, Json(e), e.StartedAt, new RunChange());

    static string DecisionName(Decision decision) => decision switch
    {
        Decision.Allowed => "allowed",
        Decision.ApprovalRequired => "approval_required",
        _ => "denied",
    };

    static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;

    static string Json<T>(T value) => JsonSerializer.Serialize(value, AgentBus.ServiceDefaults.Messaging.WireJson.Options);
}

public sealed record RunChange(int Allowed = 0, int Denied = 0, int Pending = 0, int Succeeded = 0, int Failed = 0, decimal CostUsd = 0);
