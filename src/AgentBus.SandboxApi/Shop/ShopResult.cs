namespace AgentBus.SandboxApi.Shop;

/// <summary>
/// What one shop operation answers: the status and body, the id it created or read (the call log's
/// reference), whether an idempotency key replayed an earlier result, and where a created resource lives.
/// </summary>
public sealed record ShopResult(int Status, object Body, string? Reference = null, bool Replayed = false, string? Location = null)
{
    public static ShopResult Error(int status, string error, string detail, decimal? remainingUsd = null) =>
        new(status, new ShopError(error, detail, remainingUsd));

    public static ShopResult Invalid(string detail) => Error(422, "invalid_request", detail);
}
