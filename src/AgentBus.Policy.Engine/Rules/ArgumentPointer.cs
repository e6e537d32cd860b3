using System.Text.Json;

namespace AgentBus.Policy.Engine.Rules;

/// <summary>
/// A JSON Pointer (RFC 6901) into a proposal's arguments, where a '*' segment stands for every
/// item of an array or every member of an object ("/recipients/*").
/// </summary>
public sealed class ArgumentPointer
{
    readonly string[] _segments;

    ArgumentPointer(string text, string[] segments)
    {
        Text = text;
        _segments = segments;
        HasWildcard = segments.Contains("*");
    }

    public string Text { get; }

    public bool HasWildcard { get; }

    public static bool TryParse(string text, out ArgumentPointer? pointer, out string? error)
    {
        pointer = null;
        error = null;
        if (string.IsNullOrEmpty(text) || text[0] != '/')
        {
            error = $"'{text}' is not a JSON Pointer: it must start with '/', e.g. /body/amountUsd.";
            return false;
        }
        var segments = text[1..].Split('/').Select(s => s.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal)).ToArray();
        if (segments.Any(s => s.Length == 0))
        {
            error = $"'{text}' has an empty segment.";
            return false;
        }
        pointer = new ArgumentPointer(text, segments);
        return true;
    }

    public override string ToString() => Text;

    /// <summary>The one value the pointer names, for pointers without '*'.</summary>
    public bool TryResolve(JsonElement root, out JsonElement value)
    {
        value = root;
        foreach (var segment in _segments)
            if (!Step(value, segment, out value))
                return false;
        return true;
    }

    /// <summary>
    /// Calls <paramref name="visit"/> for every value the pointer names until it returns false;
    /// returns false when a visit did, and reports whether anything was found.
    /// </summary>
    public bool ForEach<TState>(JsonElement root, TState state, Func<JsonElement, TState, bool> visit, out bool found)
    {
        found = false;
        return Walk(root, 0, state, visit, ref found);
    }

    bool Walk<TState>(JsonElement node, int index, TState state, Func<JsonElement, TState, bool> visit, ref bool found)
    {
        for (var i = index; i < _segments.Length; i++)
        {
            var segment = _segments[i];
            if (segment == "*")
            {
                switch (node.ValueKind)
                {
                    case JsonValueKind.Array:
                        foreach (var item in node.EnumerateArray())
                            if (!Walk(item, i + 1, state, visit, ref found))
                                return false;
                        return true;
                    case JsonValueKind.Object:
                        foreach (var member in node.EnumerateObject())
                            if (!Walk(member.Value, i + 1, state, visit, ref found))
                                return false;
                        return true;
                    default:
                        return true;
                }
            }
            if (!Step(node, segment, out node))
                return true;
        }
        found = true;
        return visit(node, state);
    }

    static bool Step(JsonElement node, string segment, out JsonElement next)
    {
        switch (node.ValueKind)
        {
            case JsonValueKind.Object:
                return node.TryGetProperty(segment, out next);
            case JsonValueKind.Array when int.TryParse(segment, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var i)
                                          && i < node.GetArrayLength():
                next = node[i];
                return true;
            default:
                next = default;
                return false;
        }
    }
}
