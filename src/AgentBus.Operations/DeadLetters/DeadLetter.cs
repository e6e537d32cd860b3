using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AgentBus.ServiceDefaults.Messaging;
using RabbitMQ.Client;

namespace AgentBus.Operations.DeadLetters;

/// <summary>
/// One message in an _error or _skipped queue, read without taking it off the queue: what
/// MassTransit's fault headers say went wrong, and which action and run it belongs to.
/// </summary>
public sealed record DeadLetter(
    string Queue,
    ulong DeliveryTag,
    string? MessageId,
    string MessageType,
    string Failure,
    string? ExceptionMessage,
    string? ConsumerType,
    string? InputAddress,
    int? RetryCount,
    DateTimeOffset? FaultedAt,
    string? ActionId,
    string? RunId,
    string? OriginalSender,
    IReadOnlyBasicProperties Properties,
    byte[] Body)
{
    public const string FaultExceptionType = "MT-Fault-ExceptionType";
    public const string FaultMessage = "MT-Fault-Message";
    public const string FaultConsumerType = "MT-Fault-ConsumerType";
    public const string FaultInputAddress = "MT-Fault-InputAddress";
    public const string FaultTimestamp = "MT-Fault-Timestamp";
    public const string FaultRetryCount = "MT-Fault-RetryCount";
    public const string FaultMessageType = "MT-Fault-MessageType";
    public const string MassTransitMessageType = "MT-MessageType";
    public const string MoveReason = "MT-Reason";

    /// <summary>Failures that look alike (same exception, same message type), as ServicePulse groups them.</summary>
    public string GroupId => GroupIdFor(Failure, MessageType);

    /// <summary>The AMQP message id, or a hash of the body for a message without one.</summary>
    public string Key => MessageId ?? "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Body));

    public static string GroupIdFor(string failure, string messageType) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{failure}\n{messageType}")))[..8];

    public static DeadLetter Read(string queue, ulong deliveryTag, IReadOnlyBasicProperties properties, byte[] body)
    {
        var reason = Text(properties, MoveReason);
        var failure = Text(properties, FaultExceptionType)
                      ?? (reason == "dead-letter" ? "(skipped: no consumer for this message type)" : reason is null ? "(unknown)" : $"({reason})");
        var (actionId, runId) = Identifiers(body);
        return new DeadLetter(
            queue,
            deliveryTag,
            properties.IsMessageIdPresent() && !string.IsNullOrEmpty(properties.MessageId) ? properties.MessageId : null,
            MessageTypeOf(properties),
            failure,
            Text(properties, FaultMessage),
            Text(properties, FaultConsumerType),
            Text(properties, FaultInputAddress),
            Number(properties, FaultRetryCount),
            Time(properties, FaultTimestamp) ?? (properties.IsTimestampPresent() ? DateTimeOffset.FromUnixTimeSeconds(properties.Timestamp.UnixTime) : null),
            actionId,
            runId,
            BrokerIdentity.HeaderText(properties, BrokerIdentity.OriginalUserIdHeader),
            properties,
            body);
    }

    /// <summary>
    /// The short message name: from MassTransit's message type URN (services' messages), else the
    /// AMQP type property (agents' messages), else the type the faulting consumer expected.
    /// </summary>
    static string MessageTypeOf(IReadOnlyBasicProperties properties)
    {
        if (Text(properties, MassTransitMessageType) is { } urns
            && urns.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) is [var urn, ..])
            return urn[(urn.LastIndexOf(':') + 1)..];
        if (properties.IsTypePresent() && !string.IsNullOrEmpty(properties.Type))
            return properties.Type;
        if (Text(properties, FaultMessageType) is { } clrName)
            return clrName[(clrName.LastIndexOf('.') + 1)..];
        return "(unknown)";
    }

    static (string? ActionId, string? RunId) Identifiers(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                return (null, null);
            return (StringField(document.RootElement, "actionId"), StringField(document.RootElement, "runId"));
        }
        catch (JsonException)
        {
            return (null, null);
        }
    }

    static string? StringField(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    public static string? Text(IReadOnlyBasicProperties properties, string header) => BrokerIdentity.HeaderText(properties, header);

    static object? Header(IReadOnlyBasicProperties properties, string header) =>
        properties.Headers is { } headers && headers.TryGetValue(header, out var value) ? value : null;

    static int? Number(IReadOnlyBasicProperties properties, string header) =>
        Header(properties, header) switch
        {
            int n => n,
            long n => (int)n,
            short n => n,
            byte n => n,
            byte[] bytes when int.TryParse(Encoding.UTF8.GetString(bytes), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) => n,
            _ => null,
        };

    static DateTimeOffset? Time(IReadOnlyBasicProperties properties, string header) =>
        Header(properties, header) switch
        {
            AmqpTimestamp stamp => DateTimeOffset.FromUnixTimeSeconds(stamp.UnixTime),
            byte[] bytes when DateTimeOffset.TryParse(Encoding.UTF8.GetString(bytes), CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed) => parsed,
            _ => null,
        };
}
