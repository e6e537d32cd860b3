using System.Diagnostics;
using System.Text.Json;
using AgentBus.Contracts;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace AgentBus.Testbed;

/// <summary>A reply an agent received on its own queue, with the moment it arrived (Stopwatch ticks).</summary>
public readonly record struct AgentReply(
    string Agent,
    string Type,
    string? ActionId,
    string? CorrelationId,
    string? Decision,
    string? ReasonCode,
    bool OutcomeUnknown,
    string? ErrorCode,
    long ReceivedAt);

/// <summary>
/// An agent as a program in any language would be one: its own broker user and connection
/// (RabbitMQ.Client, no MassTransit), proposals published as plain JSON with its user_id and
/// publisher confirms, replies read from its own queue. Leaner than AgentBus.Client and with every
/// knob exposed, because the runs publish tens of thousands of proposals and, for hostile input,
/// things no well-behaved client would send. The connection recovers by itself after a broker
/// restart; a publish that fails meanwhile is the caller's to repeat.
/// </summary>
public sealed class BenchAgent : IAsyncDisposable
{
    readonly IConnection _connection;
    readonly IChannel _publisher;
    readonly IChannel _replies;
    readonly Action<AgentReply> _onReply;

    BenchAgent(string agentId, IConnection connection, IChannel publisher, IChannel replies, Action<AgentReply> onReply)
    {
        AgentId = agentId;
        _connection = connection;
        _publisher = publisher;
        _replies = replies;
        _onReply = onReply;
    }

    public string AgentId { get; }

    public IConnection Connection => _connection;

    public static ConnectionFactory Factory(Scratch scratch, string user) => new()
    {
        HostName = scratch.Servers.RabbitHost,
        Port = scratch.Servers.RabbitPort,
        VirtualHost = scratch.VirtualHost,
        UserName = user,
        Password = scratch.BrokerPassword(user),
        ClientProvidedName = $"testbed:{user}",
        AutomaticRecoveryEnabled = true,
        TopologyRecoveryEnabled = true,
        NetworkRecoveryInterval = TimeSpan.FromSeconds(1),
        RequestedHeartbeat = TimeSpan.FromSeconds(10),
    };

    public static async Task<BenchAgent> ConnectAsync(Scratch scratch, string agentId, Action<AgentReply> onReply, CancellationToken ct,
        ushort replyPrefetch = 500)
    {
        // Every node of a cluster: the connection recovers onto a surviving one when its node dies.
        var nodes = scratch.Servers.RabbitNodes.Select(n => new AmqpTcpEndpoint(n.Host, n.Port)).ToList();
        var connection = await Factory(scratch, agentId).CreateConnectionAsync(nodes, ct);
        try
        {
            var publisher = await connection.CreateChannelAsync(
                new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true,
                    outstandingPublisherConfirmationsRateLimiter: new ThrottlingRateLimiter(4096)), ct);
            var replies = await connection.CreateChannelAsync(cancellationToken: ct);
            var agent = new BenchAgent(agentId, connection, publisher, replies, onReply);
            await replies.BasicQosAsync(0, replyPrefetch, false, ct);
            var consumer = new AsyncEventingBasicConsumer(replies);
            consumer.ReceivedAsync += agent.OnReplyAsync;
            await replies.BasicConsumeAsync(WireNames.AgentReplyQueue(agentId), autoAck: false, consumer, ct);
            return agent;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>The properties a well-behaved agent sends: persistent, its own user_id, a fresh message id.</summary>
    public BasicProperties Properties(string messageId) => new()
    {
        ContentType = WireNames.ContentType,
        DeliveryMode = DeliveryModes.Persistent,
        MessageId = messageId,
        UserId = AgentId,
        Type = nameof(ActionProposed),
    };

    public static byte[] Serialize(ActionProposed proposal) => JsonSerializer.SerializeToUtf8Bytes(proposal, WireJsonOptions);

    public static readonly JsonSerializerOptions WireJsonOptions = new(JsonSerializerDefaults.Web);

    /// <summary>Publishes to the proposals exchange and waits for the broker's confirm.</summary>
    public async Task PublishAsync(ReadOnlyMemory<byte> body, BasicProperties properties, TimeSpan timeout, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        await _publisher.BasicPublishAsync(WireNames.ProposalsExchange, "", mandatory: true, properties, body, deadline.Token);
    }

    async Task OnReplyAsync(object sender, BasicDeliverEventArgs delivery)
    {
        var received = Stopwatch.GetTimestamp();
        try
        {
            var reply = Parse(AgentId, delivery.BasicProperties.Type ?? "", delivery.BasicProperties.CorrelationId, delivery.Body.Span, received);
            _onReply(reply);
        }
        catch (JsonException)
        {
            _onReply(new AgentReply(AgentId, "unreadable", null, delivery.BasicProperties.CorrelationId, null, null, false, null, received));
        }
        await _replies.BasicAckAsync(delivery.DeliveryTag, multiple: false);
    }

    /// <summary>Reads the few top-level fields a run looks at, without building the whole message.</summary>
    public static AgentReply Parse(string agent, string type, string? correlationId, ReadOnlySpan<byte> body, long receivedAt)
    {
        string? actionId = null, decision = null, reasonCode = null, errorCode = null;
        var outcomeUnknown = false;
        var reader = new Utf8JsonReader(body);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            throw new JsonException("A reply is not a JSON object.");
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("actionId"u8))
                actionId = ReadString(ref reader);
            else if (reader.ValueTextEquals("decision"u8))
                decision = ReadString(ref reader);
            else if (reader.ValueTextEquals("reasonCode"u8))
                reasonCode = ReadString(ref reader);
            else if (reader.ValueTextEquals("errorCode"u8))
                errorCode = ReadString(ref reader);
            else if (reader.ValueTextEquals("outcomeUnknown"u8))
            {
                reader.Read();
                outcomeUnknown = reader.TokenType == JsonTokenType.True;
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        return new AgentReply(agent, type, actionId, correlationId, decision, reasonCode, outcomeUnknown, errorCode, receivedAt);
    }

    static string? ReadString(ref Utf8JsonReader reader)
    {
        reader.Read();
        return reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _replies.DisposeAsync();
            await _publisher.DisposeAsync();
            await _connection.CloseAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception ex) when (ex is RabbitMQ.Client.Exceptions.OperationInterruptedException or ObjectDisposedException or IOException)
        {
            // Closing a connection the broker already dropped.
        }
        await _connection.DisposeAsync();
    }
}
