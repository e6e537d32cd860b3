using System.Text.Json;
using AgentBus.Contracts;

namespace AgentBus.Projections.Audit;

/// <summary>
/// One event as the audit log keeps it, plus what it changes in its run's summary. <see cref="Payload"/>
/// is the whole message as JSON, unredacted: <see cref="AuditStore"/> redacts it for the long-lived
/// row and keeps the original in the raw-payload tier when redaction changed anything.
/// To record a new event type: add a From overload here and one AddAuditEvent line in
/// ProjectionsHostExtensions (plus the broker binding to agentbus.projections).
/// </summary>
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
    public string? RuleId { get; init; }
    public string? PolicyVersion { get; init; }

    /// <summary>Who did it: the agent, "policy", the executor, an approver, an operator.</summary>
    public string? Actor { get; init; }

    /// <summary>Ties rows together across messages, e.g. a proposal's AMQP message id and its decision.</summary>
    public string? CorrelationId { get; init; }

    public string? ExternalReference { get; init; }
    public decimal? CostUsd { get; init; }

    /// <summary>The original bytes, when <see cref="Payload"/> only describes them (a body that could not be read).</summary>
    public byte[]? RawPayload { get; init; }

    /// <summary>False for events recorded but refused (a run report from the wrong agent): they touch no run summary.</summary>
    public bool AffectsRun { get; init; } = true;

    /// <summary>
    /// The budget settlement this outcome makes, in the transaction that records it (policy_settle_outcomes,
    /// migration 0760): only for an outcome whose sender may report it (<see cref="OutcomeTrust"/>; the
    /// consumer drops it otherwise) and that ends the action.
    /// </summary>
    public OutcomeSettlement? Settles { get; init; }

    /// <summary>Tied to <paramref name="correlationId"/> (e.g. the proposal's message id), unless already tied to something.</summary>
    public AuditEntry CorrelatedTo(string? correlationId) =>
        correlationId is null || CorrelationId is not null ? this : this with { CorrelationId = correlationId };

    /// <summary>
    /// A decision. The final decision after an approval (it carries the approval id) moves the action
    /// from pending to allowed or denied in the run's summary.
    /// </summary>
    public static AuditEntry From(Guid eventId, ActionDecided e) => new(eventId, nameof(ActionDecided), e.ActionId, e.RunId,
        NullIfEmpty(e.AgentId), e.Tool, e.Decision.WireName(), e.ReasonCode, Json(e), e.DecidedAt,
        (e.Decision, AfterApproval: e.ApprovalId is not null) switch
        {
            (Decision.ApprovalRequired, _) => new RunChange(Pending: 1),
            (Decision.Allowed, true) => new RunChange(Allowed: 1, Pending: -1),
            (Decision.Allowed, false) => new RunChange(Allowed: 1),
            (_, true) => new RunChange(Denied: 1, Pending: -1),
            _ => new RunChange(Denied: 1),
        })
    {
        RuleId = e.RuleId,
        PolicyVersion = e.PolicyVersion,
        Actor = Actors.Policy,
    };

    /// <summary>The authorization: the command the policy service sent to the tool's queue.</summary>
    public static AuditEntry From(Guid eventId, ExecuteTool e) => new(eventId, nameof(ExecuteTool), e.ActionId, e.RunId,
        e.AgentId, e.Tool, "authorized", null, Json(e), e.AuthorizedAt, new RunChange(Authorized: 1))
    {
        Actor = Actors.Policy,
    };

    /// <summary>
    /// A command and, before it, the decision it stands in for (<see cref="ExecuteTool.Allowance"/>: an action
    /// allowed at once): the same ActionDecided row, under the same id, that the policy service used to
    /// publish, so a repeat's decision message is recognised as the same event.
    /// </summary>
    public static IEnumerable<AuditEntry> WithDecision(Guid eventId, ExecuteTool e) => e.Allowance is { } allowed
        ?
        [
            From(MessageIds.ActionDecided(e.AgentId, e.ActionId), new ActionDecided(e.ActionId, e.RunId, e.AgentId, e.Tool, Decision.Allowed,
                allowed.ReasonCode, allowed.Reason, allowed.RuleId, allowed.PolicyVersion, e.AuthorizedAt)),
            From(eventId, e),
        ]
        : [From(eventId, e)];

    public static AuditEntry From(Guid eventId, ExecutionStarted e) => new(eventId, nameof(ExecutionStarted), e.ActionId, e.RunId,
        e.AgentId, e.Tool, "started", null, Json(e), e.StartedAt, new RunChange())
    {
        Actor = e.Executor,
    };

    /// <summary>
    /// An outcome and, before it, the start it reports (when the tool was called): the same
    /// ExecutionStarted row, under the same id, that executors used to publish on their own.
    /// </summary>
    public static IEnumerable<AuditEntry> WithStart(Guid eventId, ActionSucceeded e) =>
        Started(e.ActionId, e.RunId, e.AgentId, e.Tool, e.Executor, e.StartedAt).Append(From(eventId, e));

    public static IEnumerable<AuditEntry> WithStart(Guid eventId, ActionFailed e) =>
        Started(e.ActionId, e.RunId, e.AgentId, e.Tool, e.Executor, e.StartedAt).Append(From(eventId, e));

    static IEnumerable<AuditEntry> Started(string actionId, string runId, string agentId, string tool, string? executor, DateTimeOffset? startedAt) =>
        executor is null || startedAt is not { } at || string.IsNullOrEmpty(actionId) || string.IsNullOrEmpty(agentId)
            ? []
            : [From(MessageIds.ExecutionStarted(agentId, actionId, tool), new ExecutionStarted(actionId, runId, agentId, tool, executor, at))];

    /// <summary>
    /// A success, or an operator's resolution of an outcome-unknown action as succeeded (<see cref="ActionSucceeded.ResolvedBy"/>,
    /// from the policy service only: <see cref="OutcomeTrust"/>): that row names the operator, and the run's summary
    /// moves the action from failed and outcome-unknown to succeeded, with the cost it settled at.
    /// </summary>
    public static AuditEntry From(Guid eventId, ActionSucceeded e)
    {
        var json = Json(e);
        return new(eventId, nameof(ActionSucceeded), e.ActionId, e.RunId,
            e.AgentId, e.Tool, "succeeded", e.ResolvedBy is null ? null : Resolved, json, e.CompletedAt,
            e.ResolvedBy is null
                ? new RunChange(Succeeded: 1, CostUsd: e.CostUsd)
                : new RunChange(Succeeded: 1, Failed: -1, OutcomeUnknown: -1, CostUsd: e.CostUsd))
        {
            ExternalReference = e.ExternalReference,
            CostUsd = e.CostUsd,
            Actor = e.ResolvedBy ?? Actors.Executor(e.Tool),
            // An operator's resolution was settled by the policy service when it recorded it.
            Settles = e.ResolvedBy is null ? new OutcomeSettlement(e.ActionId, e.Tool, "succeeded", nameof(ActionSucceeded), json, e.CostUsd) : null,
        };
    }

    /// <summary>The reason code of an operator's resolution as succeeded (a failed one carries ExecutionErrorCodes.ResolvedFailed).</summary>
    public const string Resolved = "resolved";

    /// <summary>
    /// "outcome_unknown" when the side effect may have happened, "refused" when the executor did not
    /// call the system at all (the executor says so: <see cref="ActionFailed.Refused"/>), "failed" otherwise.
    /// An operator's resolution as failed (<see cref="ActionFailed.ResolvedBy"/>) names the operator; the action was already
    /// counted failed, and is no longer counted outcome-unknown.
    /// </summary>
    public static AuditEntry From(Guid eventId, ActionFailed e)
    {
        var json = Json(e);
        return new(eventId, nameof(ActionFailed), e.ActionId, e.RunId,
            e.AgentId, e.Tool, FailureName(e), e.ErrorCode, json, e.FailedAt,
            e.ResolvedBy is null ? new RunChange(Failed: 1, OutcomeUnknown: e.OutcomeUnknown ? 1 : 0) : new RunChange(OutcomeUnknown: -1))
        {
            Actor = e.ResolvedBy ?? Actors.Executor(e.Tool),
            // A refusal of a command the policy service did not sign as delivered ends no action: the
            // genuine command may still be running.
            Settles = e.ResolvedBy is null && !ExecutionErrorCodes.EndsNoAction(e)
                ? new OutcomeSettlement(e.ActionId, e.Tool, e.OutcomeUnknown ? "outcome_unknown" : "failed", nameof(ActionFailed), json, null)
                : null,
        };
    }

    /// <summary>
    /// Kill-switch changes, dead-letter replays and purges: <see cref="Outcome"/> is the action, e.g.
    /// "agent.suspend"; the suspended agent or tool is in its column, the resolved action ("action.resolve") in its. Changes no run summary.
    /// </summary>
    public static AuditEntry From(Guid eventId, OperatorActionTaken e) => new(eventId, nameof(OperatorActionTaken),
        e.Action.StartsWith("action.", StringComparison.Ordinal) ? e.Target : null,
        // A rollback request belongs to the rollback's own run, so the run story tells who asked for it and why.
        e.Action == "run.rollback" ? RollbackRuns.For(e.Target) : null,
        e.Action.StartsWith("agent.", StringComparison.Ordinal) ? e.Target : null,
        e.Action.StartsWith("tool.", StringComparison.Ordinal) ? e.Target : null,
        e.Action, null, Json(e), e.TakenAt, new RunChange())
    {
        Actor = e.Operator,
    };

    // Approvals: the request, each approver's answer, and how it ended. They change no run summary
    // (the final ActionDecided does); the story shows who approved or denied, and when.

    public static AuditEntry From(Guid eventId, ApprovalRequested e) => new(eventId, nameof(ApprovalRequested), e.ActionId, e.RunId,
        e.AgentId, e.Tool, "requested", null, Json(e), e.RequestedAt, new RunChange())
    {
        RuleId = e.RuleId,
        PolicyVersion = e.PolicyVersion,
        Actor = Actors.Policy,
        CorrelationId = e.ApprovalId.ToString("D"),
    };

    /// <summary>One approver's counted answer: <see cref="Actor"/> is the approver, the outcome "approved" or "denied".</summary>
    public static AuditEntry From(Guid eventId, ApprovalVoteRecorded e) => new(eventId, nameof(ApprovalVoteRecorded), e.ActionId, e.RunId,
        e.AgentId, e.Tool, e.Verdict == ApprovalVerdict.Approve ? "approved" : "denied", null, Json(e), e.CastAt, new RunChange())
    {
        RuleId = e.RuleId,
        Actor = e.Approver,
        CorrelationId = e.ApprovalId.ToString("D"),
    };

    public static AuditEntry From(Guid eventId, ApprovalGranted e) => new(eventId, nameof(ApprovalGranted), e.ActionId, e.RunId,
        e.AgentId, e.Tool, "granted", ApprovalReasonCodes.Granted, Json(e), e.GrantedAt, new RunChange())
    {
        RuleId = e.RuleId,
        Actor = string.Join(", ", e.Approvers),
        CorrelationId = e.ApprovalId.ToString("D"),
    };

    public static AuditEntry From(Guid eventId, ApprovalDenied e) => new(eventId, nameof(ApprovalDenied), e.ActionId, e.RunId,
        e.AgentId, e.Tool, "denied", ApprovalReasonCodes.Denied, Json(e), e.DeniedAt, new RunChange())
    {
        RuleId = e.RuleId,
        Actor = e.DeniedBy,
        CorrelationId = e.ApprovalId.ToString("D"),
    };

    public static AuditEntry From(Guid eventId, ApprovalExpired e) => new(eventId, nameof(ApprovalExpired), e.ActionId, e.RunId,
        e.AgentId, e.Tool, "expired", ApprovalReasonCodes.Expired, Json(e), e.ExpiredAt, new RunChange())
    {
        RuleId = e.RuleId,
        Actor = Actors.Approvals,
        CorrelationId = e.ApprovalId.ToString("D"),
    };

    public static AuditEntry From(Guid eventId, ApprovalCancelled e) => new(eventId, nameof(ApprovalCancelled), e.ActionId, e.RunId,
        e.AgentId, e.Tool, "cancelled", ApprovalReasonCodes.Cancelled, Json(e), e.CancelledAt, new RunChange())
    {
        RuleId = e.RuleId,
        Actor = e.CancelledBy,
        CorrelationId = e.ApprovalId.ToString("D"),
    };

    public static AuditEntry From(Guid eventId, ApprovalEscalated e) => new(eventId, nameof(ApprovalEscalated), e.ActionId, e.RunId,
        e.AgentId, e.Tool, "escalated", null, Json(e), e.EscalatedAt, new RunChange())
    {
        RuleId = e.RuleId,
        Actor = Actors.Approvals,
        CorrelationId = e.ApprovalId.ToString("D"),
    };

    /// <summary>The grant handed to policy's consumption (single use); a repeat for the same consumption is its own row.</summary>
    public static AuditEntry From(Guid eventId, ApprovalConsumed e) => new(eventId, nameof(ApprovalConsumed), e.ActionId, e.RunId,
        e.AgentId, e.Tool, "consumed", ApprovalReasonCodes.Consumed, Json(e), e.ConsumedAt, new RunChange())
    {
        RuleId = e.RuleId,
        Actor = Actors.Policy,
        CorrelationId = e.ApprovalId.ToString("D"),
    };

    public static AuditEntry From(Guid eventId, ApprovalConsumptionRefused e) => new(eventId, nameof(ApprovalConsumptionRefused), e.ActionId,
        e.RunId, e.AgentId, e.Tool, "refused", e.ReasonCode, Json(e), e.RefusedAt, new RunChange())
    {
        Actor = Actors.Approvals,
        CorrelationId = e.ApprovalId.ToString("D"),
    };

    /// <summary>The policy file on disk was refused (broken or gone); the version in force is the row's policy version.</summary>
    public static AuditEntry From(Guid eventId, PolicyFileRefused e) => new(eventId, nameof(PolicyFileRefused), null, null, null, null,
        "refused", e.ReasonCode, Json(e), e.RefusedAt, new RunChange())
    {
        PolicyVersion = e.VersionInForce,
        Actor = Actors.Policy,
        AffectsRun = false,
    };

    static string FailureName(ActionFailed e) =>
        e.OutcomeUnknown ? "outcome_unknown" : e.Refused ? "refused" : "failed";

    static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;

    static string Json<T>(T value) => JsonSerializer.Serialize(value, AgentBus.ServiceDefaults.Messaging.WireJson.Options);
}

/// <summary>
/// An outcome as the policy's ledger settles it: the reservation becomes <paramref name="CostUsd"/> (or the
/// estimate, when null and the outcome may have happened), and <paramref name="Payload"/> is kept for
/// duplicates and replays of the action.
/// </summary>
public sealed record OutcomeSettlement(string ActionId, string Tool, string Outcome, string OutcomeType, string Payload, decimal? CostUsd);

/// <summary>What one event adds to its run's summary row.</summary>
public sealed record RunChange(
    int Allowed = 0,
    int Denied = 0,
    int Pending = 0,
    int Succeeded = 0,
    int Failed = 0,
    decimal CostUsd = 0,
    int Proposed = 0,
    int Authorized = 0,
    int OutcomeUnknown = 0,
    RunCompletion? Completion = null);

/// <summary>The agent's own report that the run is over (RunCompleted). The first report counts.</summary>
public sealed record RunCompletion(bool Succeeded, string? Summary, DateTimeOffset At);

public static class Actors
{
    public const string Policy = "policy";

    /// <summary>The approvals service itself (its sweeper expires and escalates, it refuses a grant's misuse).</summary>
    public const string Approvals = "approvals";

    public static string Executor(string tool) => $"executor:{tool}";
}
