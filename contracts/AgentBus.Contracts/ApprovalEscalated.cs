namespace AgentBus.Contracts;

/// <summary>The approval waited past its escalation delay: members of <see cref="EscalationGroup"/> may now approve too.</summary>
public sealed record ApprovalEscalated(
    Guid ApprovalId,
    string ActionId,
    string RunId,
    string AgentId,
    string Tool,
    string RuleId,
    string EscalationGroup,
    DateTimeOffset EscalatedAt);
