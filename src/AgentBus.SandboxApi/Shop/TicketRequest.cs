namespace AgentBus.SandboxApi.Shop;

public sealed record TicketRequest(string Title, string? Description, string Priority, string? CustomerEmail);
