namespace AgentBus.SandboxApi.Shop;

/// <summary>A validated refund: whole cents above zero, and a reason of 1 to 500 characters.</summary>
public sealed record RefundRequest(decimal AmountUsd, string Reason);
