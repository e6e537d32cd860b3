using System.Text.Json;

namespace AgentBus.Catalog;

/// <summary>RFC 6901 JSON Pointers: "" is the whole document, "/a/0/b~1c" walks a, element 0, "b/c".</summary>
public static class JsonPointers
{
    /// <summary>The unescaped reference tokens, or null when the text is not a JSON Pointer (no leading '/', a '~' not followed by 0 or 1).</summary>
    public static IReadOnlyList<string>? Parse(string text)
    {
        if (text.Length == 0)
            return [];
        if (text[0] != '/')
            return null;
        var tokens = new List<string>();
        foreach (var raw in text[1..].Split('/'))
        {
            for (var i = 0; i < raw.Length; i++)
                if (raw[i] == '~' && (i + 1 == raw.Length || raw[i + 1] is not ('0' or '1')))
                    return null;
            tokens.Add(raw.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal));
        }
        return tokens;
    }

    public static string Escape(string token) =>
        token.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);

    /// <summary>The value the tokens name under <paramref name="root"/>; false when a step finds nothing or there is no root (default).</summary>
    public static bool TryResolve(JsonElement root, IEnumerable<string> tokens, out JsonElement value)
    {
        value = root;
        if (root.ValueKind == JsonValueKind.Undefined)
            return false;
        foreach (var token in tokens)
        {
            if (value.ValueKind == JsonValueKind.Object && value.TryGetProperty(token, out var property))
                value = property;
            else if (value.ValueKind == JsonValueKind.Array && IsIndex(token) && int.TryParse(token, out var index) && index < value.GetArrayLength())
                value = value[index];
            else
            {
                value = default;
                return false;
            }
        }
        return true;
    }

    /// <summary>"0" or digits without a leading zero, as RFC 6901 requires of an array index.</summary>
    static bool IsIndex(string token) =>
        token.Length > 0 && token.All(char.IsAsciiDigit) && (token.Length == 1 || token[0] != '0');
}
