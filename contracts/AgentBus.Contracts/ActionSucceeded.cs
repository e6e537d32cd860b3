using System.Text.Json;

namespace AgentBus.Contracts;

/// <summary>The tool ran. <see cref="Result"/> is already redacted by the executor.</summary>
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
    DateTimeOffset CompletedAt);
