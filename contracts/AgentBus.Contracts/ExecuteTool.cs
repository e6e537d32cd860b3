using System.Text.Json;

namespace AgentBus.Contracts;

/// <summary>
/// Sent by the policy service only, to the queue of exactly one tool, and signed by it: an executor
/// refuses a command whose <see cref="Authorization"/> does not verify.
/// <see cref="ResultClearance"/> lists the classes of sensitive data (pii.email, …) the agent may
/// receive: the executor masks every other class it finds in the result. It is signed when present;
/// null (a command from a policy service that predates it) clears nothing, so everything found is masked.
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
    string? Operation = null,
    IReadOnlyList<string>? ResultClearance = null);
