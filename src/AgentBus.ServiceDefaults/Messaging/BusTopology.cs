using AgentBus.Contracts;
using MassTransit;
using RabbitMQ.Client;

namespace AgentBus.ServiceDefaults.Messaging;

/// <summary>
/// Names and routing for every message on the bus, in one place. `agentbus broker apply` declares
/// every shared exchange and binding; services only publish to them (publish topology excluded, so
/// MassTransit does not redeclare them) and so need write rights there, never configure rights.
/// Agent-facing events go to topic exchanges routed by agent id: one publish reaches the
/// projections and the agent's own reply queue. Commands go to a topic exchange routed by tool
/// name: each tool queue binds its exact name, so a command lands on that queue alone.
/// </summary>
public static class BusTopology
{
    public static void Configure(IRabbitMqBusFactoryConfigurator cfg)
    {
        Exchange<ActionProposed>(cfg, WireNames.ProposalsExchange, ExchangeType.Fanout);
        Exchange<ExecuteTool>(cfg, WireNames.ExecuteToolExchange, ExchangeType.Topic, m => m.Tool);
        Exchange<ActionDecided>(cfg, WireNames.ActionDecidedExchange, ExchangeType.Topic, m => m.AgentId);
        Exchange<ActionSucceeded>(cfg, WireNames.ActionSucceededExchange, ExchangeType.Topic, m => m.AgentId);
        Exchange<ActionFailed>(cfg, WireNames.ActionFailedExchange, ExchangeType.Topic, m => m.AgentId);
        Exchange<OperatorActionTaken>(cfg, WireNames.OperatorActionsExchange, ExchangeType.Topic, m => m.Action);
        Exchange<ExecutionStarted>(cfg, WireNames.ExecutionStartedExchange, ExchangeType.Topic, m => m.AgentId);
        Exchange<SpendReported>(cfg, WireNames.SpendReportsExchange, ExchangeType.Fanout);
        Exchange<PolicyFileRefused>(cfg, WireNames.PolicyFileRefusedExchange, ExchangeType.Topic, m => m.ReasonCode);
        Exchange<RunCompleted>(cfg, WireNames.RunReportsExchange, ExchangeType.Fanout);
        Exchange<ApprovalRequested>(cfg, WireNames.ApprovalRequestedExchange, ExchangeType.Topic, m => m.AgentId);
        Exchange<ApprovalOpened>(cfg, WireNames.ApprovalOpenedExchange, ExchangeType.Topic, m => m.AgentId);
        Exchange<ConsumeApproval>(cfg, WireNames.ConsumeApprovalExchange, ExchangeType.Topic, m => m.AgentId);
        Exchange<ApprovalGranted>(cfg, WireNames.ApprovalGrantedExchange, ExchangeType.Topic, m => m.AgentId);
        Exchange<ApprovalDenied>(cfg, WireNames.ApprovalDeniedExchange, ExchangeType.Topic, m => m.AgentId);
        Exchange<ApprovalExpired>(cfg, WireNames.ApprovalExpiredExchange, ExchangeType.Topic, m => m.AgentId);
        Exchange<ApprovalCancelled>(cfg, WireNames.ApprovalCancelledExchange, ExchangeType.Topic, m => m.AgentId);
        Exchange<ApprovalEscalated>(cfg, WireNames.ApprovalEscalatedExchange, ExchangeType.Topic, m => m.AgentId);
        Exchange<ApprovalConsumed>(cfg, WireNames.ApprovalConsumedExchange, ExchangeType.Topic, m => m.AgentId);
        Exchange<ApprovalConsumptionRefused>(cfg, WireNames.ApprovalConsumptionRefusedExchange, ExchangeType.Topic, m => m.AgentId);
        Exchange<ApprovalVoteRecorded>(cfg, WireNames.ApprovalVoteRecordedExchange, ExchangeType.Topic, m => m.AgentId);
    }

    static void Exchange<T>(IRabbitMqBusFactoryConfigurator cfg, string exchange, string type, Func<T, string>? routingKey = null)
        where T : class
    {
        cfg.Message<T>(m => m.SetEntityName(exchange));
        cfg.Publish<T>(p =>
        {
            p.ExchangeType = type;
            p.Exclude = true;
        });
        if (routingKey is not null)
            cfg.Send<T>(s => s.UseRoutingKeyFormatter(context => routingKey(context.Message)));
    }
}
