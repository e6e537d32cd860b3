namespace AgentBus.SandboxApi.Shop;

public sealed record Refund(
    string RefundId,
    string OrderId,
    decimal AmountUsd,
    string Reason,
    string Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset? CancelledAt = null);
