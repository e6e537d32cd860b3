namespace AgentBus.SandboxApi.Shop;

/// <summary>Every refusal: a stable code to branch on, a sentence saying why, and what is left when a refund is too large.</summary>
public sealed record ShopError(string Error, string? Detail = null, decimal? RemainingUsd = null);
