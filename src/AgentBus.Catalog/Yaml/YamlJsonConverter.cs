using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;

namespace AgentBus.Catalog.Yaml;

/// <summary>
/// Reads a YAML subtree (an operation's argument schema) as JSON, resolving plain scalars by the YAML
/// core schema: <c>100</c> is a number, <c>true</c> a boolean, <c>"100"</c> a string. Writes JSON back
/// by the same rules, quoting every string that would read back as something else.
/// </summary>
public sealed partial class YamlJsonConverter : IYamlTypeConverter
{
    public bool Accepts(Type type) => typeof(JsonNode).IsAssignableFrom(type);

    public object? ReadYaml(IParser parser, Type type, ObjectDeserializer rootDeserializer) => Read(parser);

    public void WriteYaml(IEmitter emitter, object? value, Type type, ObjectSerializer serializer) => Write(emitter, value as JsonNode);

    /// <summary>Short lists of scalars (required, enum, type) stay on one line.</summary>
    const int FlowSequenceLimit = 80;

    internal static void Write(IEmitter emitter, JsonNode? node)
    {
        switch (node)
        {
            case null:
                emitter.Emit(new Scalar(null, null, "null", ScalarStyle.Plain, true, false));
                return;
            case JsonObject obj:
                emitter.Emit(new MappingStart(null, null, true, MappingStyle.Block));
                foreach (var (key, value) in obj)
                {
                    emitter.Emit(new Scalar(key));
                    Write(emitter, value);
                }
                emitter.Emit(new MappingEnd());
                return;
            case JsonArray array:
                var flow = array.All(item => item is null or JsonValue) && array.Sum(item => item?.ToJsonString().Length + 2 ?? 6) <= FlowSequenceLimit;
                emitter.Emit(new SequenceStart(null, null, true, flow ? SequenceStyle.Flow : SequenceStyle.Block));
                foreach (var item in array)
                    Write(emitter, item);
                emitter.Emit(new SequenceEnd());
                return;
            default:
                emitter.Emit(ScalarOf((JsonValue)node));
                return;
        }
    }

    static Scalar ScalarOf(JsonValue value)
    {
        switch (value.GetValueKind())
        {
            case JsonValueKind.String:
                var text = value.GetValue<string>();
                var style = ReadsBackAsString(text) ? text.Contains('\n', StringComparison.Ordinal) ? ScalarStyle.Literal : ScalarStyle.Any : ScalarStyle.DoubleQuoted;
                return new Scalar(null, null, text, style, true, true);
            case JsonValueKind.True:
                return new Scalar(null, null, "true", ScalarStyle.Plain, true, false);
            case JsonValueKind.False:
                return new Scalar(null, null, "false", ScalarStyle.Plain, true, false);
            case JsonValueKind.Number:
                var number = value.ToJsonString();
                // Written plain it must read back as a number, not a string (1e400 does not fit a decimal).
                if (ScalarValue(Plain(number)) is JsonValue read && read.GetValueKind() == JsonValueKind.Number)
                    return new Scalar(null, null, number, ScalarStyle.Plain, true, false);
                throw new NotSupportedException($"The number {number} cannot be written so that it reads back as a number.");
            default:
                throw new NotSupportedException($"Cannot write a JSON {value.GetValueKind()} as YAML.");
        }
    }

    static Scalar Plain(string text) => new(null, null, text, ScalarStyle.Plain, true, false);

    /// <summary>Whether a plain (unquoted) scalar with this text reads back as the same string.</summary>
    public static bool ReadsBackAsString(string text) =>
        ScalarValue(Plain(text)) is JsonValue read && read.GetValueKind() == JsonValueKind.String;

    static JsonNode? Read(IParser parser)
    {
        if (parser.TryConsume<Scalar>(out var scalar))
            return ScalarValue(scalar);

        if (parser.TryConsume<MappingStart>(out _))
        {
            var obj = new JsonObject();
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                var key = parser.Consume<Scalar>();
                if (obj.ContainsKey(key.Value))
                    throw new YamlException(key.Start, key.End, $"Duplicate key '{key.Value}'.");
                obj[key.Value] = Read(parser);
            }
            return obj;
        }

        if (parser.TryConsume<SequenceStart>(out _))
        {
            var array = new JsonArray();
            while (!parser.TryConsume<SequenceEnd>(out _))
                array.Add(Read(parser));
            return array;
        }

        var current = parser.Current!;
        throw new YamlException(current.Start, current.End, "Anchors, aliases and tags are not supported in argument schemas.");
    }

    static JsonNode? ScalarValue(Scalar scalar)
    {
        var text = scalar.Value;
        if (scalar.Style != ScalarStyle.Plain)
            return JsonValue.Create(text);
        if (text is "" or "~" or "null" or "Null" or "NULL")
            return null;
        if (text is "true" or "True" or "TRUE")
            return JsonValue.Create(true);
        if (text is "false" or "False" or "FALSE")
            return JsonValue.Create(false);
        if (IntegerPattern().IsMatch(text) && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
            return JsonValue.Create(integer);
        if (FloatPattern().IsMatch(text) && decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
            return JsonValue.Create(number);
        return JsonValue.Create(text);
    }

    [GeneratedRegex("^[-+]?[0-9]+$")]
    private static partial Regex IntegerPattern();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex FloatPattern();
}

/// <summary>An entry of a policy or catalog file that remembers the line it starts on, for error messages.</summary>
public interface IHasLine
{
    int Line { get; set; }
}

/// <summary>Stamps every policy or catalog entry with the line it starts on, so semantic errors can name it.</summary>
public sealed class LineTrackingDeserializer(INodeDeserializer inner) : INodeDeserializer
{
    public bool Deserialize(IParser reader, Type expectedType, Func<IParser, Type, object?> nestedObjectDeserializer,
        out object? value, ObjectDeserializer rootDeserializer)
    {
        var start = reader.Current?.Start;
        if (!inner.Deserialize(reader, expectedType, nestedObjectDeserializer, out value, rootDeserializer))
            return false;
        if (value is IHasLine located && start is { } mark)
            located.Line = (int)mark.Line;
        return true;
    }
}
