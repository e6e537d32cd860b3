using System.Globalization;

namespace AgentBus.Audit.Redaction;

/// <summary>
/// A compiled sensitive-field path such as <c>body.lines[*].iban</c>. <see cref="Scope"/> is
/// "arguments", "result" or null for both.
/// </summary>
public sealed class RedactionPath
{
    public const string AnySegment = "*";

    RedactionPath(string? scope, IReadOnlyList<string> segments)
    {
        Scope = scope;
        Segments = segments;
    }

    public string? Scope { get; }

    /// <summary>Property names, array indexes as their decimal text, or <see cref="AnySegment"/>.</summary>
    public IReadOnlyList<string> Segments { get; }

    public bool Matches(int position, string segment) =>
        position < Segments.Count && (Segments[position] == AnySegment || Segments[position] == segment);

    /// <summary>Returns null on success, or what is wrong with the path.</summary>
    public static string? TryParse(string text, out RedactionPath? path)
    {
        path = null;
        if (string.IsNullOrWhiteSpace(text))
            return "it is empty";

        var segments = new List<string>();
        var span = text.Trim();
        if (span.StartsWith("$.", StringComparison.Ordinal))
            span = span[2..];

        foreach (var part in span.Split('.'))
        {
            var rest = part;
            var bracket = rest.IndexOf('[');
            var name = bracket < 0 ? rest : rest[..bracket];
            if (name.Length > 0)
                segments.Add(name);
            else if (bracket < 0)
                return "it has an empty segment";
            while (bracket >= 0)
            {
                var close = rest.IndexOf(']', bracket);
                if (close < 0)
                    return $"'[' without ']' in '{part}'";
                var index = rest[(bracket + 1)..close];
                if (index == "*")
                    segments.Add(AnySegment);
                else if (int.TryParse(index, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
                    segments.Add(n.ToString(CultureInfo.InvariantCulture));
                else
                    return $"'[{index}]' is neither [*] nor an index";
                rest = rest[(close + 1)..];
                bracket = rest.IndexOf('[');
                if (bracket > 0)
                    return $"unexpected text before '[' in '{part}'";
            }
        }

        string? scope = null;
        if (segments.Count > 1 && segments[0] is "arguments" or "result")
        {
            scope = segments[0];
            segments.RemoveAt(0);
        }
        path = new RedactionPath(scope, segments);
        return null;
    }

    public static RedactionPath Parse(string text) =>
        TryParse(text, out var path) is { } error ? throw new FormatException($"'{text}': {error}") : path!;
}
