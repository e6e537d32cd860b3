namespace AgentBus.SandboxApi.Shop;

/// <summary>A paid order; its status follows from what has been refunded so far.</summary>
public sealed record Order(string OrderId, string CustomerEmail, string Currency, decimal PaidUsd, decimal RefundedUsd)
{
    public decimal RemainingUsd => PaidUsd - RefundedUsd;

    public string Status => RefundedUsd == 0 ? "paid" : RefundedUsd < PaidUsd ? "partially_refunded" : "refunded";
}
