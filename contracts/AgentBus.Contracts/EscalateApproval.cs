namespace AgentBus.Contracts;

/// <summary>Sent by the sweeper for a pending approval past its escalation delay; the saga decides.</summary>
public sealed record EscalateApproval(Guid ApprovalId, DateTimeOffset SweptAt);
