namespace AgentBus.Contracts;

/// <summary>
/// Sent by the approvals service's sweeper for a pending approval past its expiry. The saga decides
/// under its row lock: only a still-pending approval whose time is up becomes expired.
/// </summary>
public sealed record ExpireApproval(Guid ApprovalId, DateTimeOffset SweptAt);
