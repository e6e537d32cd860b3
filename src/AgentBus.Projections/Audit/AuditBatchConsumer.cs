using System.Security.Cryptography;
using AgentBus.Contracts;
using AgentBus.ServiceDefaults.Messaging;
using MassTransit;
using Microsoft.Extensions.Options;

namespace AgentBus.Projections.Audit;

/// <summary>What the broker-validated sender of a message may say with it.</summary>
public enum SenderTrust
{
    /// <summary>Not its to say: kept under an id of its own (see <see cref="AuditBatchConsumer{T}"/>).</summary>
    Untrusted,

    /// <summary>It speaks for what the message names.</summary>
    Trusted,

    /// <summary>It may say this, but only for itself: the row names the sender as its actor.</summary>
    TrustedAsSender,
}

/// <summary>
/// How one event type becomes audit entries (see <see cref="AuditEntry"/>'s From overloads): usually
/// one, an outcome two. <paramref name="trust"/> judges the broker-validated sender; null when the
/// broker's write permissions already decide it.
/// </summary>
public sealed class AuditEventMap<T>(Func<Guid, T, IEnumerable<AuditEntry>> map, Func<T, string?, SenderTrust>? trust = null)
    where T : class
{
    public IEnumerable<AuditEntry> Map(Guid eventId, T message) => map(eventId, message);

    public SenderTrust Trust(T message, string? sender) => trust?.Invoke(message, sender) ?? SenderTrust.Trusted;
}

/// <summary>
/// Records batches of one event type published by AgentBus's own services. The event id is the
/// message id, which the services derive from what the message is about, so a redelivered or
/// re-published event is recognised and not recorded twice.
/// </summary>
public sealed class AuditBatchConsumer<T>(AuditStore store, AuditEventMap<T> map, ILogger<AuditBatchConsumer<T>> logger) : IConsumer<Batch<T>>
    where T : class
{
    /// <summary>The outcome of an audit row whose sender may not speak for the event it carries.</summary>
    public const string UntrustedSender = "untrusted_sender";

    public async Task Consume(ConsumeContext<Batch<T>> context)
    {
        var entries = new List<AuditEntry>(context.Message.Length);
        foreach (var item in context.Message)
        {
            var correlationId = item.TryGetPayload(out RabbitMqBasicConsumeContext? basic) && basic.Properties.IsCorrelationIdPresent()
                ? basic.Properties.CorrelationId
                : null;
            var eventId = EventId(item);
            var sender = item.BrokerUserId();
            var trust = map.Trust(item.Message, sender);
            if (trust == SenderTrust.Untrusted)
            {
                entries.Add(Untrusted(eventId, item.Message, sender));
                continue;
            }
            foreach (var mapped in map.Map(eventId, item.Message))
            {
                // Only an outcome its sender speaks for settles a budget; one it reports for itself does not.
                var entry = trust == SenderTrust.TrustedAsSender ? mapped with { Actor = sender, Settles = null } : mapped;
                entries.Add(entry.CorrelatedTo(correlationId));
            }
        }
        await store.AppendAsync(entries, context.CancellationToken);
    }

    /// <summary>
    /// A message from someone who may not send it (one tool's executor reporting another tool's action)
    /// is kept for the investigation, but under an id of its own: it can neither stand in for the real
    /// event nor, by taking its id first, make the audit drop it. It changes no run.
    /// </summary>
    AuditEntry Untrusted(Guid eventId, T message, string? sender)
    {
        var claimed = map.Map(eventId, message).Last();
        var who = sender ?? "(no user_id)";
        logger.LogWarning("{Type} {EventId} for action {ActionId} came from {Sender}, who may not send it; recorded as {Outcome}",
            typeof(T).Name, eventId, claimed.ActionId, who, UntrustedSender);
        return claimed with
        {
            EventId = MessageIds.For($"{who}\n{eventId:D}", UntrustedSender),
            Outcome = "rejected",
            ReasonCode = UntrustedSender,
            Change = new RunChange(),
            Actor = who,
            ExternalReference = null,
            CostUsd = null,
            AffectsRun = false,
            Settles = null,
        };
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
    public static void AddAuditEvents<T>(this IBusRegistrationConfigurator bus, Func<Guid, T, IEnumerable<AuditEntry>> map,
        Func<T, string?, SenderTrust>? trust = null)
        where T : class
    {
        bus.AddSingleton(new AuditEventMap<T>(map, trust));
        bus.AddConsumer<AuditBatchConsumer<T>, AuditBatchConsumerDefinition<T>>();
    }
}
