using System.Text.Json;

namespace AgentBus.Contracts;

/// <summary>
/// The tool ran. <see cref="Result"/> is already redacted by the executor. <see cref="Executor"/> and
/// <see cref="StartedAt"/> say which executor copy called the tool and when it claimed the action
/// (the audit records the start from them).
/// <see cref="ResolvedBy"/> and <see cref="Evidence"/> are set when an operator resolved an
/// outcome-unknown action (`agentbus actions resolve`): the policy service then publishes this
/// outcome for the action, and only its word counts for it.
/// <see cref="Masked"/> lists what the executor masked in <see cref="Result"/> because the agent is
/// not cleared to receive it (classes and pointers, never values); null or empty when nothing was.
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
    DateTimeOffset? StartedAt = null,
    string? ResolvedBy = null,
    string? Evidence = null,
    IReadOnlyList<MaskedData>? Masked = null);
