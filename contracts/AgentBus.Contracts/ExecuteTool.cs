using System.Text.Json;

namespace AgentBus.Contracts;

/// <summary>
/// Sent by the policy service only, to the queue of exactly one tool, and signed by it: an executor
/// refuses a command whose <see cref="Authorization"/> does not verify.
/// </summary>
public sealed record ExecuteTool(
    string ActionId,
    string RunId,
    string AgentId,
    string Tool,
    JsonElement Arguments,
    string ArgumentsHash,
    string? IdempotencyKey,
    DateTimeOffset AuthorizedAt,
    ToolAuthorization Authorization,
    string? Operation = null);
