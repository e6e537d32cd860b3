namespace AgentBus.SandboxApi.Shop;

/// <summary>A request openapi.yaml forbids; answered 422 invalid_request with the message as the detail.</summary>
public sealed class InvalidShopRequestException(string detail) : Exception(detail);
