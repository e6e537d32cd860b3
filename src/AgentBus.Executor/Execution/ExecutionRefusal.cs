using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.ServiceDefaults.Messaging;
using AgentBus.ServiceDefaults.Telemetry;
using MassTransit;

namespace AgentBus.Executor.Execution;

/// <summary>
/// How an executor says "not run": an ActionFailed with <c>Refused = true</c>, a specific error code
/// and OutcomeUnknown = false, which reaches the agent and the audit. Two kinds, never the
/// outcome's message id:
/// <list type="bullet">
/// <item>a command the policy service did not sign as delivered (<see cref="ExecutionErrorCodes.UnsignedCommand"/>)
/// is refused without a claim, under an id derived from the delivered message, so a forgery can
/// neither take nor block the id under which the genuine command's outcome will be recorded;</item>
/// <item>a signed command that may not run (suspended, expired) is refused finally: the refusal is
/// recorded on the claim (<see cref="ClaimStore.RefuseAsync"/>) under <see cref="MessageIds.ActionRefusal"/>,
/// and every later delivery publishes it again instead of running the tool.</item>
/// </list>
/// </summary>
public static class ExecutionRefusal
{
    public static Guid MessageIdFor(ConsumeContext<ExecuteTool> context, string errorCode) =>
        MessageIds.For($"{context.MessageId?.ToString() ?? "no-message-id"}:{context.Message.ActionId}", "Refused:" + errorCode);

    /// <summary>Refuses a delivered command without claiming its action id.</summary>
    public static async Task PublishUnclaimedAsync(ConsumeContext<ExecuteTool> context, string errorCode, string reason, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        await context.Publish(Failure(context.Message, errorCode, reason, now), send => send.MessageId = MessageIdFor(context, errorCode),
            cancellationToken);
        AgentBusMetrics.ToolCall(context.Message.Tool, context.Message.AgentId, "refused");
    }

    /// <summary>The final refusal of a signed command, as the claim keeps it.</summary>
    public static RecordedOutcome Final(ExecuteTool command, string errorCode, string reason, DateTimeOffset now) =>
        new(ClaimState.Refused, 0, nameof(ActionFailed), MessageIds.ActionRefusal(command.AgentId, command.ActionId, command.Tool),
            JsonSerializer.Serialize(Failure(command, errorCode, reason, now), WireJson.Options));

    /// <summary>The words for a suspension found when claiming ("agent" before "tool").</summary>
    public static (string Code, string Reason) ForSuspension(ExecuteTool command, IReadOnlyList<string> kinds) =>
        kinds.Contains("agent")
            ? (ReasonCodes.AgentSuspended, $"Agent '{command.AgentId}' was suspended by an operator before this command ran; it was not executed and never will be.")
            : (ReasonCodes.ToolSuspended, $"Tool '{command.Tool}' was suspended by an operator before this command ran; it was not executed and never will be.");

    static ActionFailed Failure(ExecuteTool command, string errorCode, string reason, DateTimeOffset now)
    {
        ExecuteToolConsumer.EnsureAddressable(command);
        return new ActionFailed(command.ActionId, command.RunId, command.AgentId, command.Tool, errorCode, reason,
            OutcomeUnknown: false, DurationMs: 0, Attempts: 0, FailedAt: now, Refused: true);
    }
}
