namespace AgentBus.Contracts;

/// <summary>
/// An authenticated approver's verdict, sent by the approvals service to the approval saga as a
/// request; the saga answers with <see cref="ApprovalVoteResult"/>. <see cref="ApproverGroups"/> are
/// the groups the service authenticated for <see cref="Approver"/>; the saga decides eligibility,
/// separation of duties, quorum and expiry under the saga's row lock.
/// </summary>
public sealed record ApprovalVoteCast(
    Guid ApprovalId,
    Guid VoteId,
    string Approver,
    IReadOnlyList<string> ApproverGroups,
    ApprovalVerdict Verdict,
    string? Comment,
    DateTimeOffset CastAt);
