using System.Text.Json;

namespace AgentBus.Contracts;

/// <summary>
/// The tool ran. <see cref="Result"/> is already redacted by the executor. <see cref="Executor"/> and
/// <see cref="StartedAt"/> say which executor copy called the tool and when it claimed the action
/// (the audit records the start from them).
/// </summary>
public sealed record ActionSucceeded(
    string ActionId,
    string RunId,
    string AgentId,
    string Tool,
    JsonElement Result,
    string? ExternalReference,
    decimal CostUsd,
    long DurationMs,
    int Attempts,
    DateTimeOffset CompletedAt,
    string? Executor = null,
    DateTimeOffset? StartedAt = null);
