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
    // Duplicate names are refused: one reader taking the first "agentId" and another the last is how
    // a proposal says two things at once (RFC 8259 leaves it open, I-JSON forbids it).
    static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64, AllowDuplicateProperties = false };
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
        var headers = AgentHeaders.Readable(receiveContext.TransportHeaders);
        if (rejection is null)
            return new BodyConsumeContext(receiveContext, _raw.Deserialize(receiveContext.Body, headers, receiveContext.InputAddress));

        receiveContext.GetOrAddPayload(() => rejection);
        return new BodyConsumeContext(receiveContext, _raw.Deserialize(EmptyObject, headers, receiveContext.InputAddress));
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

/// <summary>
/// The headers of an agent's message as MassTransit may read them. MassTransit parses
/// <c>MT-Activity-Correlation-Context</c> as a JSON object when it is not an AMQP table, and a
/// string such as "x" then faults the message before any consumer sees it (no answer, no audit):
/// an agent's malformed baggage is dropped instead. TraceBaggage reads the table from the AMQP
/// properties itself.
/// </summary>
public sealed class AgentHeaders(Headers inner) : Headers
{
    const string Baggage = MassTransit.Logging.DiagnosticHeaders.ActivityCorrelationContext;

    public static Headers Readable(Headers headers) =>
        headers.TryGetHeader(Baggage, out var value) && value is not IEnumerable<KeyValuePair<string, object?>> and not IEnumerable<KeyValuePair<string, object>>
            ? new AgentHeaders(headers)
            : headers;

    public IEnumerable<KeyValuePair<string, object>> GetAll() => inner.GetAll().Where(h => h.Key != Baggage);

    public bool TryGetHeader(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out object? value)
    {
        if (key == Baggage)
        {
            value = null;
            return false;
        }
        return inner.TryGetHeader(key, out value);
    }

    public T? Get<T>(string key, T? defaultValue = default) where T : class => key == Baggage ? defaultValue : inner.Get(key, defaultValue);

    public T? Get<T>(string key, T? defaultValue = default) where T : struct => key == Baggage ? defaultValue : inner.Get(key, defaultValue);

    public IEnumerator<HeaderValue> GetEnumerator() => inner.Where(h => h.Key != Baggage).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
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
