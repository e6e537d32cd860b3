namespace AgentBus.SandboxApi.Shop;

public sealed record Ticket(
    string TicketId,
    string Title,
    string? Description,
    string Priority,
    string? CustomerEmail,
    string Status,
    string? Resolution,
    IReadOnlyList<Comment> Comments,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ClosedAt = null);
