using AgentBus.ServiceDefaults.Telemetry;
using AgentBus.Contracts;
using AgentBus.ServiceDefaults.Messaging;
using MassTransit;

namespace AgentBus.Executor.Execution;

/// <summary>
/// How an executor says "not run": an ActionFailed with a specific error code and
/// OutcomeUnknown=false, which reaches the agent and the audit. Every check in front of the tool
/// (signature, tool, arguments, expiry, a suspension filter) refuses through here, so all refusals
/// look the same. Nothing is claimed: a refused command leaves the action id free for a valid one.
/// </summary>
public static class ExecutionRefusal
{
    /// <summary>
    /// The message id derives from the delivered command and the code, never from the action alone,
    /// so a forged command cannot take the id under which the real outcome will be recorded.
    /// </summary>
    public static Guid MessageIdFor(ConsumeContext<ExecuteTool> context, string errorCode) =>
        MessageIds.For($"{context.MessageId?.ToString() ?? "no-message-id"}:{context.Message.ActionId}", "Refused:" + errorCode);

    public static async Task PublishAsync(ConsumeContext<ExecuteTool> context, string errorCode, string reason, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        var command = context.Message;
        ExecuteToolConsumer.EnsureAddressable(command);
        var failed = new ActionFailed(command.ActionId, command.RunId, command.AgentId, command.Tool, errorCode, reason,
            OutcomeUnknown: false, DurationMs: 0, Attempts: 0, FailedAt: now);
        await context.Publish(failed, send => send.MessageId = MessageIdFor(context, errorCode), cancellationToken);
        AgentBusMetrics.ToolCall(command.Tool, command.AgentId, "refused");
    }
}
