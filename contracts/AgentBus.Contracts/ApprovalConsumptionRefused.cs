namespace AgentBus.Contracts;

/// <summary>
/// The answer to a refused <see cref="ConsumeApproval"/>: nothing may run for it.
/// <see cref="ReasonCode"/> is one of <see cref="ApprovalReasonCodes"/> (not granted, binding mismatch,
/// already consumed by another consumption, stale, unknown).
/// </summary>
public sealed record ApprovalConsumptionRefused(
    Guid ApprovalId,
    Guid ConsumptionId,
    string ActionId,
    string RunId,
    string AgentId,
    string Tool,
    string ReasonCode,
    string Reason,
    DateTimeOffset RefusedAt);
