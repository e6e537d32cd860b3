using System.Security.Cryptography;
using AgentBus.Contracts;
using AgentBus.ServiceDefaults.Messaging;
using MassTransit;
using Microsoft.Extensions.Options;

namespace AgentBus.Projections.Audit;

/// <summary>How one event type becomes audit entries (see <see cref="AuditEntry"/>'s From overloads): usually one, an outcome two.</summary>
public sealed class AuditEventMap<T>(Func<Guid, T, IEnumerable<AuditEntry>> map)
    where T : class
{
    public IEnumerable<AuditEntry> Map(Guid eventId, T message) => map(eventId, message);
}

/// <summary>
/// Records batches of one event type published by AgentBus's own services. The event id is the
/// message id, which the services derive from what the message is about, so a redelivered or
/// re-published event is recognised and not recorded twice.
/// </summary>
public sealed class AuditBatchConsumer<T>(AuditStore store, AuditEventMap<T> map) : IConsumer<Batch<T>>
    where T : class
{
    public async Task Consume(ConsumeContext<Batch<T>> context)
    {
        var entries = new List<AuditEntry>(context.Message.Length);
        foreach (var item in context.Message)
        {
            var correlationId = item.TryGetPayload(out RabbitMqBasicConsumeContext? basic) && basic.Properties.IsCorrelationIdPresent()
                ? basic.Properties.CorrelationId
                : null;
            foreach (var entry in map.Map(EventId(item), item.Message))
                entries.Add(entry.CorrelationId is null && correlationId is not null ? entry with { CorrelationId = correlationId } : entry);
        }
        await store.AppendAsync(entries, context.CancellationToken);
    }

    static Guid EventId(ConsumeContext<T> item) =>
        item.MessageId ?? MessageIds.For(Convert.ToHexStringLower(SHA256.HashData(item.ReceiveContext.Body.GetBytes())), typeof(T).Name);
}

public sealed class AuditBatchConsumerDefinition<T> : ConsumerDefinition<AuditBatchConsumer<T>>
    where T : class
{
    readonly AuditOptions _options;

    public AuditBatchConsumerDefinition(IOptions<AuditOptions> options)
    {
        _options = options.Value;
        EndpointName = WireNames.ProjectionsQueue;
        ConcurrentMessageLimit = _options.PrefetchCount;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpoint, IConsumerConfigurator<AuditBatchConsumer<T>> consumer,
        IRegistrationContext context)
    {
        // The bindings from every event exchange are provisioned by `agentbus broker apply`.
        endpoint.ConfigureConsumeTopology = false;
        AuditBatching.Configure(endpoint, consumer, _options);
    }
}

static class AuditBatching
{
    public static void Configure<TConsumer>(IReceiveEndpointConfigurator endpoint, IConsumerConfigurator<TConsumer> consumer, AuditOptions options)
        where TConsumer : class
    {
        consumer.Options<BatchOptions>(batch => batch
            .SetMessageLimit(options.BatchSize)
            .SetTimeLimit(options.BatchTimeLimit)
            .SetConcurrencyLimit(options.BatchConcurrency));
        if (endpoint is IRabbitMqReceiveEndpointConfigurator rabbit)
            rabbit.PrefetchCount = Math.Max(options.PrefetchCount, options.BatchSize * options.BatchConcurrency);
    }
}

public static class AuditRegistration
{
    /// <summary>Records every <typeparamref name="T"/> reaching the projections queue: one line per event type.</summary>
    public static void AddAuditEvent<T>(this IBusRegistrationConfigurator bus, Func<Guid, T, AuditEntry> map)
        where T : class =>
        bus.AddAuditEvents<T>((id, message) => [map(id, message)]);

    /// <summary>Records every <typeparamref name="T"/> as the entries <paramref name="map"/> makes of it, in that order.</summary>
    public static void AddAuditEvents<T>(this IBusRegistrationConfigurator bus, Func<Guid, T, IEnumerable<AuditEntry>> map)
        where T : class
    {
        bus.AddSingleton(new AuditEventMap<T>(map));
        bus.AddConsumer<AuditBatchConsumer<T>, AuditBatchConsumerDefinition<T>>();
    }
}
