namespace AgentBus.Contracts;

/// <summary>
/// The approval saga holds this approval, committed: from now on the approvals API and inbox answer
/// for <see cref="ApprovalId"/>. Policy tells the agent <c>approval_required</c> only on this event, so an
/// agent never hears of an approval the approvers' API does not know yet. Published after the saga's
/// transaction commits, and again (same message id) when the same request arrives again while the
/// approval is open.
/// </summary>
public sealed record ApprovalOpened(
    Guid ApprovalId,
    string ActionId,
    string RunId,
    string AgentId,
    string Tool,
    string RuleId,
    DateTimeOffset ExpiresAt,
    DateTimeOffset OpenedAt);
