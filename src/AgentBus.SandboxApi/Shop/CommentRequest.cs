namespace AgentBus.SandboxApi.Shop;

public sealed record CommentRequest(string Body, string Visibility);
