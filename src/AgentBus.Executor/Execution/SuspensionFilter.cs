using AgentBus.Contracts;
using AgentBus.ServiceDefaults.Messaging;
using Dapper;
using MassTransit;
using Npgsql;

namespace AgentBus.Executor.Execution;

/// <summary>
/// The kill switch on the executor side: a command already queued when an operator suspended its
/// agent or tool is not run. It is answered with ActionFailed (agent_suspended / tool_suspended,
/// certainly not executed) so the agent, the audit and the budget all learn it, and the consumer
/// is never called. Reads the policy_suspensions table the policy service and CLI share.
/// </summary>
public sealed class SuspensionFilter(IServiceProvider services) : IFilter<ConsumeContext>
{
    public async Task Send(ConsumeContext context, IPipe<ConsumeContext> next)
    {
        if (!context.TryGetMessage<ExecuteTool>(out var consumeContext))
        {
            await next.Send(context);
            return;
        }

        var command = consumeContext.Message;
        var kinds = await SuspensionsAsync(command, context.CancellationToken);
        if (kinds.Count == 0)
        {
            await next.Send(context);
            return;
        }

        var (code, error) = kinds.Contains("agent")
            ? (ReasonCodes.AgentSuspended, $"Agent '{command.AgentId}' was suspended by an operator before this command ran; it was not executed.")
            : (ReasonCodes.ToolSuspended, $"Tool '{command.Tool}' was suspended by an operator before this command ran; it was not executed.");
        services.GetRequiredService<ILogger<SuspensionFilter>>()
            .LogWarning("Refused queued action {ActionId} of agent {AgentId} on {Tool}: {ErrorCode}", command.ActionId, command.AgentId, command.Tool, code);

        var failed = new ActionFailed(command.ActionId, command.RunId, command.AgentId, command.Tool, code, error,
            OutcomeUnknown: false, DurationMs: 0, Attempts: 0, services.GetRequiredService<TimeProvider>().GetUtcNow());
        await context.Publish(failed, send => send.MessageId = MessageIds.For($"{command.AgentId}:{command.ActionId}", "Outcome"),
            context.CancellationToken);
    }

    /// <summary>
    /// Reads the kill switch on a connection given back before the command runs: holding it across
    /// the consume would pin one pooled connection per call in flight on top of the ones the call
    /// needs, and with as many calls in flight as the pool has connections, every call would wait
    /// for a connection that only a finished call can return.
    /// </summary>
    async Task<List<string>> SuspensionsAsync(ExecuteTool command, CancellationToken ct)
    {
        var database = services.GetRequiredService<NpgsqlDataSource>();
        await using var connection = await database.OpenConnectionAsync(ct);
        return (await connection.QueryAsync<string>(new CommandDefinition("""
            SELECT kind FROM policy_suspensions WHERE (kind = 'agent' AND name = @AgentId) OR (kind = 'tool' AND name = @Tool)
            """, new { command.AgentId, command.Tool }, cancellationToken: ct))).ToList();
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("suspensions");
}
