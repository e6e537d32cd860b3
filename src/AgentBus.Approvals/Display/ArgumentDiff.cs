using System.Text.Json;
using System.Text.Json.Nodes;

namespace AgentBus.Approvals.Display;

public sealed record ArgumentChange(string Path, string Kind, string? Before, string? After);

/// <summary>
/// A readable diff for actions that change something, leaf by leaf (JSON paths such as
/// <c>$.limits.daily</c>), already redacted. Where the two sides come from, first match wins:
/// 1. the arguments carry both <c>before</c> and <c>after</c> (at the top, or inside an HTTP tool's <c>body</c>);
/// 2. policy sent the current value of what the action changes (<c>Current</c> on the request): it is
///    compared with the HTTP tool's <c>body</c>, or with the arguments themselves when there is no body.
/// Otherwise there is no diff, and approvers see the (redacted) arguments only.
/// </summary>
public static class ArgumentDiff
{
    public static IReadOnlyList<ArgumentChange>? For(JsonElement arguments, JsonElement? current)
    {
        if (Sides(arguments, current) is not var (before, after))
            return null;
        var left = Flatten(ArgumentRedactor.Redact(before));
        var right = Flatten(ArgumentRedactor.Redact(after));
        var changes = new List<ArgumentChange>();
        foreach (var path in left.Keys.Union(right.Keys).Order(StringComparer.Ordinal))
        {
            var had = left.TryGetValue(path, out var was);
            var has = right.TryGetValue(path, out var now);
            if (had && has && was == now)
                continue;
            changes.Add(new ArgumentChange(path, !had ? "added" : !has ? "removed" : "changed", had ? was : null, has ? now : null));
        }
        return changes;
    }

    static (JsonElement Before, JsonElement After)? Sides(JsonElement arguments, JsonElement? current)
    {
        if (arguments.ValueKind != JsonValueKind.Object)
            return null;
        if (BeforeAfter(arguments) is { } top)
            return top;
        var hasBody = arguments.TryGetProperty("body", out var body) && body.ValueKind == JsonValueKind.Object;
        if (hasBody && BeforeAfter(body) is { } inBody)
            return inBody;
        if (current is { ValueKind: not (JsonValueKind.Undefined or JsonValueKind.Null) } known)
            return (known, hasBody ? body : arguments);
        return null;
    }

    static (JsonElement, JsonElement)? BeforeAfter(JsonElement value) =>
        value.TryGetProperty("before", out var before) && value.TryGetProperty("after", out var after) ? (before, after) : null;

    static Dictionary<string, string> Flatten(JsonNode? node)
    {
        var leaves = new Dictionary<string, string>(StringComparer.Ordinal);
        Walk(node, "$", leaves);
        return leaves;
    }

    static void Walk(JsonNode? node, string path, Dictionary<string, string> leaves)
    {
        switch (node)
        {
            case JsonObject obj when obj.Count > 0:
                foreach (var (key, value) in obj)
                    Walk(value, IsPlain(key) ? $"{path}.{key}" : $"{path}[{JsonSerializer.Serialize(key)}]", leaves);
                break;
            case JsonArray array when array.Count > 0:
                for (var i = 0; i < array.Count; i++)
                    Walk(array[i], $"{path}[{i}]", leaves);
                break;
            default:
                leaves[path] = node?.ToJsonString() ?? "null";
                break;
        }
    }

    static bool IsPlain(string key) => key.Length > 0 && key.All(c => char.IsAsciiLetterOrDigit(c) || c == '_' || c == '-');
}
