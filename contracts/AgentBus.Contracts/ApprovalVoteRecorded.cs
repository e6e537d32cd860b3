namespace AgentBus.Contracts;

/// <summary>
/// One approver's counted answer (approve or deny), published by the approval saga for the audit:
/// who answered, when, and how many approvals the action has so far. A refused vote (wrong group,
/// separation of duties, too late) is not recorded here; it never counted.
/// </summary>
public sealed record ApprovalVoteRecorded(
    Guid ApprovalId,
    string ActionId,
    string RunId,
    string AgentId,
    string Tool,
    string RuleId,
    string Approver,
    ApprovalVerdict Verdict,
    string? Comment,
    bool ThroughEscalation,
    int Approvals,
    int Quorum,
    DateTimeOffset CastAt);
