using AgentBus.Contracts;
using MassTransit;

namespace AgentBus.Projections.Audit;

public sealed class AuditProjection(AuditStore store) :
    IConsumer<ActionDecided>,
    IConsumer<ActionSucceeded>,
    IConsumer<ActionFailed>,
    IConsumer<OperatorActionTaken>
{
    public Task Consume(ConsumeContext<ActionDecided> context) =>
        store.RecordAsync(AuditEntry.From(EventId(context), context.Message), context.CancellationToken);

    public Task Consume(ConsumeContext<ActionSucceeded> context) =>
        store.RecordAsync(AuditEntry.From(EventId(context), context.Message), context.CancellationToken);

    public Task Consume(ConsumeContext<ActionFailed> context) =>
        store.RecordAsync(AuditEntry.From(EventId(context), context.Message), context.CancellationToken);

    public Task Consume(ConsumeContext<OperatorActionTaken> context) =>
        store.RecordAsync(AuditEntry.From(EventId(context), context.Message), context.CancellationToken);

    static Guid EventId(ConsumeContext context) =>
        context.MessageId ?? throw new InvalidOperationException("An event without a message id cannot be recorded idempotently.");
}

public sealed class AuditProjectionDefinition : ConsumerDefinition<AuditProjection>
{
    public AuditProjectionDefinition()
    {
        EndpointName = WireNames.ProjectionsQueue;
        ConcurrentMessageLimit = 16;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpoint,
        IConsumerConfigurator<AuditProjection> consumer, IRegistrationContext context)
    {
        // The bindings from every event exchange are provisioned by `agentbus broker apply`.
        endpoint.ConfigureConsumeTopology = false;
        if (endpoint is IRabbitMqReceiveEndpointConfigurator rabbit)
            rabbit.PrefetchCount = 64;
    }
}
