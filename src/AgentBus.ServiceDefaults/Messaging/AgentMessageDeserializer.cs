using System.Net.Mime;
using System.Text.Json;
using System.Text.Unicode;
using AgentBus.Contracts;
using MassTransit;
using MassTransit.Serialization;

namespace AgentBus.ServiceDefaults.Messaging;

/// <summary>
/// Reads plain-JSON messages from agents without ever faulting on bad input: an oversized, non-UTF-8,
/// non-JSON or mistyped body becomes an empty <typeparamref name="T"/> carrying an
/// <see cref="IngressRejection"/>, so the consumer answers it instead of it poisoning the queue.
/// Used for every content type on agent-facing endpoints, because agents are not ours.
/// </summary>
public sealed class AgentMessageDeserializer<T>(int maxBodyBytes) : IMessageDeserializer
    where T : class
{
    static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };
    static readonly MessageBody EmptyObject = new StringMessageBody("{}");

    // A gateway should not silently ignore what an agent meant to say ("approved": true, a typo'd
    // field): anything the contract does not name, spelled exactly as the schema spells it, is refused.
    static readonly HashSet<string> KnownFields = typeof(T).GetProperties()
        .Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name))
        .ToHashSet(StringComparer.Ordinal);

    readonly SystemTextJsonRawMessageSerializer _raw = new(RawSerializerOptions.AnyMessageType);

    public ContentType ContentType => SystemTextJsonRawMessageSerializer.JsonContentType;

    public ConsumeContext Deserialize(ReceiveContext receiveContext)
    {
        var rejection = Inspect(receiveContext.Body.GetBytes());
        if (rejection is null)
            return _raw.Deserialize(receiveContext);

        receiveContext.GetOrAddPayload(() => rejection);
        return new BodyConsumeContext(receiveContext,
            _raw.Deserialize(EmptyObject, receiveContext.TransportHeaders, receiveContext.InputAddress));
    }

    public SerializerContext Deserialize(MessageBody body, Headers headers, Uri? destinationAddress = null) =>
        _raw.Deserialize(body, headers, destinationAddress);

    public MessageBody GetMessageBody(string text) => _raw.GetMessageBody(text);

    public void Probe(ProbeContext context) => context.CreateScope("agentIngressJson").Add("maxBodyBytes", maxBodyBytes);

    public IngressRejection? Inspect(ReadOnlySpan<byte> body)
    {
        if (body.Length > maxBodyBytes)
            return new(ReasonCodes.PayloadTooLarge, $"The message is {body.Length} bytes; the limit is {maxBodyBytes} bytes.");
        if (!Utf8.IsValid(body))
            return new(ReasonCodes.InvalidUtf8, "The message body is not valid UTF-8.");

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body.ToArray(), DocumentOptions);
        }
        catch (JsonException ex)
        {
            return new(ReasonCodes.InvalidJson, $"The message body is not valid JSON ({Position(ex)}).");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                return new(ReasonCodes.InvalidJson, $"The message body must be a JSON object, not {root.ValueKind.ToString().ToLowerInvariant()}.");

            foreach (var property in root.EnumerateObject())
                if (!KnownFields.Contains(property.Name))
                    return new(ReasonCodes.UnknownField, $"Field '{Truncate(property.Name)}' is not part of the {typeof(T).Name} contract.",
                        StringField(root, "actionId"), StringField(root, "runId"), StringField(root, "tool"));

            try
            {
                root.Deserialize<T>(WireJson.Options);
                return null;
            }
            catch (JsonException ex)
            {
                return new(ReasonCodes.InvalidFieldType, $"Field '{ex.Path ?? "$"}' has the wrong JSON type.",
                    StringField(root, "actionId"), StringField(root, "runId"), StringField(root, "tool"));
            }
        }
    }

    static string Truncate(string text) => text.Length <= 64 ? text : text[..64] + "…";

    static string Position(JsonException ex) =>
        ex.LineNumber is { } line ? $"line {line + 1}, byte {ex.BytePositionInLine + 1}" : "unreadable";

    static string? StringField(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}

public sealed class AgentMessageSerializerFactory<T>(int maxBodyBytes) : ISerializerFactory
    where T : class
{
    readonly AgentMessageDeserializer<T> _deserializer = new(maxBodyBytes);
    readonly SystemTextJsonRawMessageSerializer _serializer = new(RawSerializerOptions.AddTransportHeaders);

    public ContentType ContentType => SystemTextJsonRawMessageSerializer.JsonContentType;

    public IMessageSerializer CreateSerializer() => _serializer;

    public IMessageDeserializer CreateDeserializer() => _deserializer;
}
