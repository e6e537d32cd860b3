namespace AgentBus.Contracts;

/// <summary>
/// Policy asks to use a grant for exactly this action, after re-checking kill switch, limits and
/// budget. The saga answers with <see cref="ApprovalConsumed"/> or <see cref="ApprovalConsumptionRefused"/>
/// (events routed by agent id, carrying <see cref="ConsumptionId"/>). Accepted only when the approval is
/// granted, the binding (action, run, agent, tool, arguments hash) equals the approved one, and no
/// other consumption used it: the first <see cref="ConsumptionId"/> wins and only that id is accepted
/// again, so a redelivered request repeats the same execution and a replayed grant is refused.
/// </summary>
public sealed record ConsumeApproval(
    Guid ApprovalId,
    Guid ConsumptionId,
    string ActionId,
    string RunId,
    string AgentId,
    string Tool,
    string ArgumentsHash,
    DateTimeOffset RequestedAt);
