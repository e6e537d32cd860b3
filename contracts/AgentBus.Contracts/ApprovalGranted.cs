namespace AgentBus.Contracts;

/// <summary>
/// Enough distinct, eligible people approved. Not yet permission to run: policy re-checks kill
/// switch, limits and budget, then consumes the grant (<see cref="ConsumeApproval"/>, single use)
/// before it signs an ExecuteTool carrying <see cref="ApprovalId"/>. The binding fields are the ones
/// the approval was requested for.
/// </summary>
public sealed record ApprovalGranted(
    Guid ApprovalId,
    string ActionId,
    string RunId,
    string AgentId,
    string Tool,
    string ArgumentsHash,
    string RuleId,
    IReadOnlyList<string> Approvers,
    DateTimeOffset GrantedAt,
    DateTimeOffset ConsumableUntil);
