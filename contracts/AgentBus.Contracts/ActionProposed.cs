using System.Text.Json;

namespace AgentBus.Contracts;

/// <summary>
/// An agent asks to run one tool call. Identifiers are strings on purpose: the policy service
/// validates them and answers malformed ones with a reason code instead of a deserialization fault.
/// </summary>
public sealed record ActionProposed(
    string ActionId,
    string RunId,
    string AgentId,
    string Tool,
    JsonElement Arguments,
    string? IdempotencyKey = null,
    string? Intent = null);
