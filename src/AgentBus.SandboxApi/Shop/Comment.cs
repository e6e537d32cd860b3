namespace AgentBus.SandboxApi.Shop;

public sealed record Comment(string CommentId, string TicketId, string Body, string Visibility, DateTimeOffset CreatedAt);
