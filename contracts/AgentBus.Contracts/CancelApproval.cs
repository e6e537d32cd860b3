namespace AgentBus.Contracts;

/// <summary>Withdraw an approval that is pending, or granted and not yet used (its agent or tool was suspended).</summary>
public sealed record CancelApproval(Guid ApprovalId, string Reason, string CancelledBy, DateTimeOffset RequestedAt);
