using System.Net;
using System.Text.Json;
using AgentBus.Operations.Broker;
using AgentBus.Contracts;
using AgentBus.ServiceDefaults.Messaging;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace AgentBus.Operations.DeadLetters;

public sealed record OperatorBrokerSettings(BrokerAddress Broker, string VirtualHost, Uri ManagementUrl, string Password);

public sealed record DeadLetterQueueInfo(string Name, long Messages);

/// <summary>
/// The broker as an operator sees it: connected as <see cref="BrokerIdentity.OperatorUser"/>, which
/// can read dead-letter queues, publish to the replay and operator-actions exchanges, and list
/// queues through the management API; nothing else.
/// </summary>
public sealed class OperatorBroker : IAsyncDisposable
{
    readonly IConnection _connection;
    readonly RabbitMqManagementClient _management;

    OperatorBroker(OperatorBrokerSettings settings, IConnection connection, RabbitMqManagementClient management)
    {
        Settings = settings;
        _connection = connection;
        _management = management;
    }

    public OperatorBrokerSettings Settings { get; }

    public static async Task<OperatorBroker> ConnectAsync(OperatorBrokerSettings settings, CancellationToken ct)
    {
        var factory = new ConnectionFactory
        {
            VirtualHost = settings.VirtualHost,
            UserName = BrokerIdentity.OperatorUser,
            Password = settings.Password,
            ClientProvidedName = $"agentbus-cli:{Environment.UserName}",
            AutomaticRecoveryEnabled = false,
            RequestedConnectionTimeout = TimeSpan.FromSeconds(10),
        };
        IConnection connection;
        try
        {
            connection = await factory.CreateConnectionAsync(settings.Broker.AmqpEndpoints, ct);
        }
        catch (BrokerUnreachableException ex)
        {
            throw new DeadLetterException(
                $"Cannot connect to RabbitMQ at {settings.Broker}, vhost '{settings.VirtualHost}', as {BrokerIdentity.OperatorUser}: " +
                $"{ex.GetBaseException().Message}");
        }
        return new OperatorBroker(settings, connection, new RabbitMqManagementClient(settings.ManagementUrl, BrokerIdentity.OperatorUser, settings.Password));
    }

    /// <summary>Every _error and _skipped queue in the vhost with the number of messages ready in it.</summary>
    public async Task<IReadOnlyList<DeadLetterQueueInfo>> ListDeadLetterQueuesAsync(CancellationToken ct)
    {
        JsonElement queues;
        try
        {
            queues = await _management.GetAsync($"queues/{Uri.EscapeDataString(Settings.VirtualHost)}?columns=name", ct);
        }
        catch (HttpRequestException ex) when (ex.StatusCode is null)
        {
            throw new DeadLetterException($"The RabbitMQ management API at {Settings.ManagementUrl} does not answer: {ex.Message}");
        }

        var names = queues.EnumerateArray()
            .Select(q => q.GetProperty("name").GetString()!)
            .Where(DeadLetterQueues.IsDeadLetterQueue)
            .Order(StringComparer.Ordinal)
            .ToList();

        // The management API's counts lag by seconds; the queue itself knows exactly.
        var result = new List<DeadLetterQueueInfo>(names.Count);
        var channel = await _connection.CreateChannelAsync(cancellationToken: ct);
        try
        {
            foreach (var name in names)
            {
                try
                {
                    var ok = await channel.QueueDeclarePassiveAsync(name, ct);
                    result.Add(new(name, ok.MessageCount));
                }
                catch (OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode == 404)
                {
                    // Deleted since it was listed; the failed check closed the channel.
                    await channel.DisposeAsync();
                    channel = await _connection.CreateChannelAsync(cancellationToken: ct);
                }
            }
        }
        finally
        {
            await channel.DisposeAsync();
        }
        return result;
    }

    /// <summary>Opens a dead-letter queue for reading; what is read and not acknowledged goes back when the session ends.</summary>
    public async Task<DeadLetterSession> OpenAsync(string queue, CancellationToken ct)
    {
        if (!DeadLetterQueues.IsDeadLetterQueue(queue))
            throw new DeadLetterException($"'{queue}' is not a dead-letter queue: agentbus dlq works on queues whose name ends in _error or _skipped.");

        var reader = await _connection.CreateChannelAsync(cancellationToken: ct);
        try
        {
            var declared = await reader.QueueDeclarePassiveAsync(queue, ct);
            var publisher = await _connection.CreateChannelAsync(
                new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), ct);
            return new DeadLetterSession(queue, declared.MessageCount, reader, publisher);
        }
        catch (OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode == 404)
        {
            await reader.DisposeAsync();
            throw new DeadLetterException($"Queue '{queue}' does not exist in vhost '{Settings.VirtualHost}' (nothing has been dead-lettered there yet).");
        }
        catch
        {
            await reader.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _management.Dispose();
        await _connection.DisposeAsync();
    }
}

/// <summary>
/// One pass over a dead-letter queue. Messages are taken with basic.get and held unacknowledged,
/// so other messages stay where they are; <see cref="DisposeAsync"/> gives back everything not
/// acknowledged, in its original order. A crash does the same: the broker requeues what this
/// connection held.
/// </summary>
public sealed class DeadLetterSession : IAsyncDisposable
{
    readonly IChannel _reader;
    readonly IChannel _publisher;
    long _read;
    bool _holding;

    internal DeadLetterSession(string queue, uint messagesAtStart, IChannel reader, IChannel publisher)
    {
        Queue = queue;
        MessagesAtStart = messagesAtStart;
        _reader = reader;
        _publisher = publisher;
    }

    public string Queue { get; }

    /// <summary>
    /// How many messages were waiting when the session began. A pass reads no more than this, so a
    /// replayed message that fails again and returns during the pass is not replayed twice.
    /// </summary>
    public uint MessagesAtStart { get; }

    public async Task<DeadLetter?> NextAsync(CancellationToken ct)
    {
        if (_read >= MessagesAtStart)
            return null;
        var got = await _reader.BasicGetAsync(Queue, autoAck: false, ct);
        if (got is null)
            return null;
        _read++;
        _holding = true;
        return DeadLetter.Read(Queue, got.DeliveryTag, got.BasicProperties, got.Body.ToArray());
    }

    public Task AckAsync(DeadLetter message, CancellationToken ct) => _reader.BasicAckAsync(message.DeliveryTag, multiple: false, ct).AsTask();

    /// <summary>Publishes with mandatory routing and waits for the broker's confirm; an unroutable message throws.</summary>
    public async Task PublishAsync(string exchange, string routingKey, BasicProperties properties, ReadOnlyMemory<byte> body, CancellationToken ct)
    {
        try
        {
            await _publisher.BasicPublishAsync(exchange, routingKey, mandatory: true, properties, body, ct);
        }
        catch (PublishException ex) when (ex.IsReturn)
        {
            throw new DeadLetterException($"RabbitMQ could not route the message: nothing is bound to exchange '{exchange}' " +
                                          $"under '{routingKey}'. Run `agentbus broker apply` to restore the topology.");
        }
        catch (OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode is 403 or 404)
        {
            throw new DeadLetterException($"RabbitMQ refused the publish to '{exchange}': {ex.ShutdownReason.ReplyText}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_holding && _reader.IsOpen)
                await _reader.BasicNackAsync(0, multiple: true, requeue: true);
        }
        finally
        {
            await _publisher.DisposeAsync();
            await _reader.DisposeAsync();
        }
    }
}

public sealed class DeadLetterException(string message) : Exception(message);
