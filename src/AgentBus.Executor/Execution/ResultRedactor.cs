using System.Text.Json;
using AgentBus.Executor.Tools;
using Microsoft.Extensions.Options;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace AgentBus.Executor.Execution;

/// <summary>
/// Removes what must not leave the executor from a tool's result before it is recorded, cached or
/// published: the values at the tool's configured JSONPath expressions (Tool:Redact), and the tool's
/// own secret wherever a response echoes it.
/// </summary>
public sealed class ResultRedactor
{
    public const string Mask = "[redacted]";

    readonly IReadOnlyList<string> _paths;
    readonly string? _secret;

    public ResultRedactor(IOptions<ToolOptions> options, ToolSecret secret)
        : this(options.Value.Redact, secret.Value)
    {
    }

    internal ResultRedactor(IReadOnlyList<string> paths, string? secret)
    {
        _paths = paths;
        _secret = string.IsNullOrEmpty(secret) ? null : secret;
    }

    /// <summary>A JSONPath expression that cannot be parsed, as a start-up problem; null when it can.</summary>
    public static string? PathProblem(string path)
    {
        if (string.IsNullOrWhiteSpace(path) || !path.StartsWith('$'))
            return $"Tool:Redact entry '{path}' must be a JSONPath expression starting with '$' (e.g. \"$.body.card.number\" or \"$..password\").";
        try
        {
            _ = new JObject().SelectTokens(path).ToList();
            return null;
        }
        catch (Exception ex) when (ex is Newtonsoft.Json.JsonException or ArgumentException)
        {
            return $"Tool:Redact entry '{path}' is not a valid JSONPath expression: {ex.Message}";
        }
    }

    public JsonElement Redact(JsonElement result)
    {
        if (result.ValueKind is JsonValueKind.Undefined || (_paths.Count == 0 && _secret is null))
            return result;

        using var reader = new JsonTextReader(new StringReader(result.GetRawText()))
        {
            DateParseHandling = DateParseHandling.None,
            FloatParseHandling = FloatParseHandling.Decimal,
        };
        var root = JToken.Load(reader);

        foreach (var path in _paths)
        {
            foreach (var match in root.SelectTokens(path).ToList())
            {
                if (ReferenceEquals(match, root))
                    return System.Text.Json.JsonSerializer.SerializeToElement(Mask);
                match.Replace(new JValue(Mask));
            }
        }

        if (_secret is not null)
        {
            IEnumerable<JToken> all = root is JContainer container ? container.DescendantsAndSelf() : [root];
            foreach (var value in all.OfType<JValue>().Where(v => v.Type == JTokenType.String).ToList())
            {
                var text = (string)value.Value!;
                if (text.Contains(_secret, StringComparison.Ordinal))
                    value.Value = text.Replace(_secret, Mask, StringComparison.Ordinal);
            }
        }

        using var redacted = JsonDocument.Parse(root.ToString(Formatting.None));
        return redacted.RootElement.Clone();
    }
}
