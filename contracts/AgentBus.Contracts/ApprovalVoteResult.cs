namespace AgentBus.Contracts;

/// <summary>The approval saga's answer to one <see cref="ApprovalVoteCast"/>.</summary>
public sealed record ApprovalVoteResult(
    Guid ApprovalId,
    Guid VoteId,
    ApprovalVoteOutcome Outcome,
    string Status,
    string ReasonCode,
    string Reason,
    IReadOnlyList<string> Approvers,
    int Quorum);
