using System.Diagnostics;
using AgentBus.Contracts;
using AgentBus.Executor.Tools;
using AgentBus.ServiceDefaults.Json;
using AgentBus.ServiceDefaults.Messaging;
using AgentBus.ServiceDefaults.Telemetry;
using MassTransit;
using Microsoft.Extensions.Options;

namespace AgentBus.Executor.Execution;

/// <summary>
/// Runs one ExecuteTool with this process's tool and reports the outcome. A command for another
/// tool, or whose arguments no longer match the hash policy signed off, is refused unexecuted.
/// </summary>
public sealed class ExecuteToolConsumer(
    ITool tool,
    IOptions<ExecutorOptions> executor,
    IOptions<ToolOptions> toolOptions,
    TimeProvider clock,
    ILogger<ExecuteToolConsumer> logger) : IConsumer<ExecuteTool>
{
    public async Task Consume(ConsumeContext<ExecuteTool> context)
    {
        var command = context.Message;
        AgentBusTelemetry.TagAction(command.ActionId, command.RunId);

        var refusal = Refusal(command);
        if (refusal is not null)
        {
            logger.LogWarning("Refused action {ActionId}: {ErrorCode}", command.ActionId, refusal.ErrorCode);
            await PublishOutcome(context, refusal, TimeSpan.Zero, attempts: 0);
            return;
        }

        var started = Stopwatch.GetTimestamp();
        ToolOutcome outcome;
        try
        {
            outcome = await tool.ExecuteAsync(
                new ToolCall(command.ActionId, command.RunId, command.AgentId, command.Arguments, command.IdempotencyKey ?? command.ActionId),
                context.CancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !context.CancellationToken.IsCancellationRequested)
        {
            // The call may have reached the system before the plugin failed; retrying could do it twice.
            logger.LogError(ex, "Tool {Tool} failed on action {ActionId}", command.Tool, command.ActionId);
            outcome = ToolOutcome.Unknown("tool_error", $"The tool failed unexpectedly: {ex.GetType().Name}.");
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        logger.LogInformation("Action {ActionId} on {Tool}: {Result} in {ElapsedMs:0} ms",
            command.ActionId, command.Tool, outcome.Succeeded ? "succeeded" : outcome.ErrorCode, elapsed.TotalMilliseconds);
        await PublishOutcome(context, outcome, elapsed, attempts: 1);
    }

    ToolOutcome? Refusal(ExecuteTool command)
    {
        if (!string.Equals(command.Tool, executor.Value.Tool, StringComparison.Ordinal))
            return ToolOutcome.NotExecuted("wrong_tool", $"This executor runs '{executor.Value.Tool}', not '{command.Tool}'.");
        if (command.Arguments.ValueKind != System.Text.Json.JsonValueKind.Object)
            return ToolOutcome.NotExecuted("invalid_arguments", "The command carries no argument object.");
        if (!string.Equals(CanonicalJson.Hash(command.Arguments), command.ArgumentsHash, StringComparison.Ordinal))
            return ToolOutcome.NotExecuted("arguments_changed", "The arguments do not match the hash policy authorized.");
        return null;
    }

    Task PublishOutcome(ConsumeContext<ExecuteTool> context, ToolOutcome outcome, TimeSpan elapsed, int attempts)
    {
        var command = context.Message;
        AgentBusMetrics.ToolCall(command.Tool, command.AgentId, attempts == 0 ? "refused" : outcome.Succeeded ? "succeeded" : outcome.OutcomeUnknown ? "outcome_unknown" : "failed", elapsed, outcome.Succeeded ? toolOptions.Value.UnitCostUsd : 0);
        var messageId = MessageIds.For($"{command.AgentId}:{command.ActionId}", "Outcome");
        var durationMs = (long)elapsed.TotalMilliseconds;

        if (outcome.Succeeded)
        {
            var succeeded = new ActionSucceeded(command.ActionId, command.RunId, command.AgentId, command.Tool, outcome.Result,
                outcome.ExternalReference, toolOptions.Value.UnitCostUsd, durationMs, attempts, clock.GetUtcNow());
            return context.Publish(succeeded, send => send.MessageId = messageId, context.CancellationToken);
        }

        var failed = new ActionFailed(command.ActionId, command.RunId, command.AgentId, command.Tool,
            outcome.ErrorCode ?? "failed", outcome.Error ?? "The tool failed.", outcome.OutcomeUnknown, durationMs, attempts, clock.GetUtcNow());
        return context.Publish(failed, send => send.MessageId = messageId, context.CancellationToken);
    }
}
