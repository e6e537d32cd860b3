using AgentBus.Contracts;
using AgentBus.ServiceDefaults.Messaging;
using Dapper;
using MassTransit;
using Npgsql;

namespace AgentBus.Approvals.Saga;

/// <summary>
/// A suspended agent or tool cancels every approval of it that is still open or granted and unused:
/// each saga gets its own <see cref="CancelApproval"/> and decides under its lock (one that was
/// consumed a moment earlier stays consumed).
/// </summary>
public sealed class OperatorActionConsumer(NpgsqlDataSource dataSource, TimeProvider clock, ILogger<OperatorActionConsumer> logger)
    : IConsumer<OperatorActionTaken>
{
    public const string AgentSuspend = "agent.suspend";
    public const string ToolSuspend = "tool.suspend";

    public async Task Consume(ConsumeContext<OperatorActionTaken> context)
    {
        var action = context.Message;
        var column = action.Action switch
        {
            AgentSuspend => "agent_id",
            ToolSuspend => "tool",
            _ => null,
        };
        if (column is null || string.IsNullOrWhiteSpace(action.Target))
            return;

        await using var connection = await dataSource.OpenConnectionAsync(context.CancellationToken);
        var ids = (await connection.QueryAsync<Guid>(new CommandDefinition(
            $"SELECT correlation_id FROM approval_sagas WHERE {column} = @Target AND current_state IN {ApprovalStatus.In(ApprovalStatus.Pending, ApprovalStatus.Escalated, ApprovalStatus.Granted)}",
            new { action.Target }, cancellationToken: context.CancellationToken))).ToList();

        var what = action.Action == AgentSuspend ? "agent" : "tool";
        var reason = $"The {what} '{action.Target}' was suspended by {action.Operator}" + (string.IsNullOrWhiteSpace(action.Reason) ? "." : $": {action.Reason}");
        var endpoint = await context.GetSendEndpoint(ApprovalsAddress.Queue);
        var subject = context.MessageId?.ToString("D") ?? $"{action.Action}:{action.Target}:{action.TakenAt:O}";
        foreach (var id in ids)
            await endpoint.Send(new CancelApproval(id, reason, action.Operator, clock.GetUtcNow()),
                send => send.MessageId = MessageIds.For($"{id:D}:{subject}", nameof(CancelApproval)), context.CancellationToken);

        if (ids.Count > 0)
            logger.LogInformation("{Action} of {Target}: cancelling {Count} approvals", action.Action, action.Target, ids.Count);
    }
}

public sealed class OperatorActionConsumerDefinition : ConsumerDefinition<OperatorActionConsumer>
{
    public OperatorActionConsumerDefinition()
    {
        EndpointName = WireNames.ApprovalsOperatorActionsQueue;
        ConcurrentMessageLimit = 4;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpoint, IConsumerConfigurator<OperatorActionConsumer> consumer,
        IRegistrationContext context)
    {
        // Bound to the agentbus.events.operator-actions fanout by `agentbus broker apply`; other actions are ignored.
        endpoint.ConfigureConsumeTopology = false;
    }
}
