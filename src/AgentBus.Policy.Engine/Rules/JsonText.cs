using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace AgentBus.Policy.Engine.Rules;

/// <summary>
/// Reads JSON strings without allocating when it safely can (no escape sequences, short), since
/// the evaluator runs for every proposal; falls back to <see cref="JsonElement.GetString"/> otherwise.
/// </summary>
static class JsonText
{
    const int StackLimit = 512;

    /// <summary>The escaped UTF-8 bytes between the quotes.</summary>
    static ReadOnlySpan<byte> Raw(JsonElement value)
    {
        var raw = JsonMarshal.GetRawUtf8Value(value);
        return raw.Length >= 2 && raw[0] == (byte)'"' ? raw[1..^1] : raw;
    }

    /// <summary>True when the string certainly has at most <paramref name="max"/> code points, decided without decoding.</summary>
    public static bool CertainlyAtMost(JsonElement value, int max) => Raw(value).Length <= max;

    public static bool IsMatch(Regex regex, JsonElement value)
    {
        var raw = Raw(value);
        if (raw.Length > StackLimit || raw.IndexOf((byte)'\\') >= 0)
            return regex.IsMatch(value.GetString()!);
        Span<char> chars = stackalloc char[StackLimit];
        var count = Encoding.UTF8.GetChars(raw, chars);
        return regex.IsMatch(chars[..count]);
    }
}
