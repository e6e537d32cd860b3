using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.Operations.Broker;
using AgentBus.ServiceDefaults.Messaging;
using RabbitMQ.Client;

namespace AgentBus.Operations.Audit;

/// <summary>Where the operator broker user publishes: the broker's AMQP node(s) and the folder holding that user's password.</summary>
public sealed record OperatorBrokerEndpoint(BrokerAddress Broker, string VirtualHost, SecretStore Secrets);

/// <summary>
/// Publishes an <see cref="OperatorActionTaken"/> as the operator broker user: plain JSON with MassTransit's
/// message-type header, as the projections endpoint reads it; confirmed, with a timeout. The audit records
/// it with the operator's name, whichever front end (CLI or console) made the change.
/// </summary>
public static class OperatorActionPublisher
{
    public static async Task PublishAsync(OperatorBrokerEndpoint broker, OperatorActionTaken action, Guid messageId, CancellationToken ct)
    {
        var passwordFile = broker.Secrets.PathFor("rabbitmq", BrokerTopology.OperatorUser);
        if (!File.Exists(passwordFile))
            throw new IOException($"no password for broker user {BrokerTopology.OperatorUser} at {passwordFile}");

        var factory = new ConnectionFactory
        {
            VirtualHost = broker.VirtualHost,
            UserName = BrokerTopology.OperatorUser,
            Password = (await File.ReadAllTextAsync(passwordFile, ct)).Trim(),
            ClientProvidedName = "agentbus-operator",
            AutomaticRecoveryEnabled = false,
            RequestedConnectionTimeout = TimeSpan.FromSeconds(10),
        };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(15));
        await using var connection = await factory.CreateConnectionAsync(broker.Broker.AmqpEndpoints, timeout.Token);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true), timeout.Token);
        var (properties, body) = Message(action, messageId);
        // Routed by the action ("agent.suspend"): the approvals service binds the suspensions it acts on.
        await channel.BasicPublishAsync(WireNames.OperatorActionsExchange, action.Action, mandatory: true, properties, body, timeout.Token);
    }

    /// <summary>The message as the projections endpoint reads it (plain JSON, MassTransit's message-type header), sent as the operator user.</summary>
    public static (BasicProperties Properties, byte[] Body) Message(OperatorActionTaken action, Guid messageId) =>
        (new BasicProperties
        {
            ContentType = WireNames.ContentType,
            DeliveryMode = DeliveryModes.Persistent,
            MessageId = messageId.ToString(),
            Type = nameof(OperatorActionTaken),
            UserId = BrokerTopology.OperatorUser,
            Timestamp = new AmqpTimestamp(action.TakenAt.ToUnixTimeSeconds()),
            Headers = new Dictionary<string, object?> { ["MT-MessageType"] = MessageTypeUrn },
        }, JsonSerializer.SerializeToUtf8Bytes(action, WireJson.Options));

    public const string MessageTypeUrn = "urn:message:AgentBus.Contracts:" + nameof(OperatorActionTaken);

    /// <summary>The failures that mean "the broker did not take it", as opposed to a bug.</summary>
    public static bool IsUnreachable(Exception ex) =>
        ex is RabbitMQ.Client.Exceptions.BrokerUnreachableException or RabbitMQ.Client.Exceptions.OperationInterruptedException
            or OperationCanceledException or IOException or TimeoutException;
}
