using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace AgentBus.Catalog.Http;

/// <summary>
/// An operation's URL: a fixed base (scheme, host, port, optional path) and an RFC 6570 template
/// after it, restricted to the two forms that keep every value in its place: {name} inside the
/// path (simple expansion, which percent-encodes '/', '?', '#', '%' and everything else reserved)
/// and one trailing {?a,b} (form-style query). Std.UriTemplate expands; this class checks the
/// template at load, refuses values that would still move the request ('.', '..', empty path
/// values, look-alikes of '/' and '.'), and checks the expanded URL against the template: same
/// scheme, host and port, the same number of path segments, only the query parameters named.
/// </summary>
public sealed partial class OperationUrlTemplate
{
    readonly Uri _base;
    readonly string _template;
    readonly int _pathSegments;

    OperationUrlTemplate(Uri baseUrl, string template, IReadOnlyList<string> pathVariables, IReadOnlyList<string> queryVariables, int pathSegments)
    {
        _base = baseUrl;
        _template = template;
        PathVariables = pathVariables;
        QueryVariables = queryVariables;
        _pathSegments = pathSegments;
    }

    public IReadOnlyList<string> PathVariables { get; }
    public IReadOnlyList<string> QueryVariables { get; }
    public IEnumerable<string> Variables => PathVariables.Concat(QueryVariables);

    /// <summary>The whole template, base included, as a reviewer reads it.</summary>
    public override string ToString() => _template;

    /// <summary>Checks the base URL on its own (shared by every operation of a tool).</summary>
    public static bool TryParseBase(string? baseUrl, out Uri? parsed, out string? problem)
    {
        parsed = null;
        problem = null;
        if (string.IsNullOrWhiteSpace(baseUrl) || baseUrl.Contains('{', StringComparison.Ordinal) || baseUrl.Contains('}', StringComparison.Ordinal)
            || !Uri.TryCreate(baseUrl, UriKind.Absolute, out var uri)
            || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            || string.IsNullOrEmpty(uri.Host) || !string.IsNullOrEmpty(uri.UserInfo)
            || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment)
            || baseUrl.Contains('?', StringComparison.Ordinal) || baseUrl.Contains('#', StringComparison.Ordinal))
        {
            problem = $"baseUrl '{baseUrl}' must be a fixed absolute http or https URL (scheme, host, optional port and path) without template variables, credentials, query or fragment.";
            return false;
        }
        parsed = new Uri(uri.GetLeftPart(UriPartial.Path).TrimEnd('/'), UriKind.Absolute);
        return true;
    }

    public static OperationUrlTemplate? Parse(Uri baseUrl, string? path, out string? problem)
    {
        problem = null;
        if (string.IsNullOrEmpty(path) || path[0] != '/')
        {
            problem = $"path '{path}' must start with '/'.";
            return null;
        }

        var pathVariables = new List<string>();
        var queryVariables = new List<string>();
        var literalPath = new StringBuilder();
        var position = 0;
        while (position < path.Length)
        {
            var c = path[position];
            if (c == '}')
            {
                problem = $"path '{path}' has a '}}' without its '{{'.";
                return null;
            }
            if (c is '?' or '#')
            {
                problem = $"path '{path}' has a literal '{c}'; query parameters come from a trailing {{?name,...}} expression, fragments never.";
                return null;
            }
            if (c != '{')
            {
                if (char.IsControl(c) || c == ' ')
                {
                    problem = $"path '{path}' contains a space or control character.";
                    return null;
                }
                literalPath.Append(c);
                position++;
                continue;
            }

            var end = path.IndexOf('}', position);
            if (end < 0)
            {
                problem = $"path '{path}' has a '{{' without its '}}'.";
                return null;
            }
            var expression = path[(position + 1)..end];
            if (expression.StartsWith('?'))
            {
                if (end != path.Length - 1)
                {
                    problem = $"path '{path}': the query expression {{{expression}}} must come last.";
                    return null;
                }
                foreach (var name in expression[1..].Split(','))
                {
                    if (!CheckName(path, name, out problem))
                        return null;
                    queryVariables.Add(name);
                }
            }
            else
            {
                if (!CheckName(path, expression, out problem))
                    return null;
                pathVariables.Add(expression);
                literalPath.Append('x');
            }
            position = end + 1;
        }

        var all = pathVariables.Concat(queryVariables).ToList();
        if (all.Distinct(StringComparer.Ordinal).Count() != all.Count)
        {
            problem = $"path '{path}' uses a variable twice.";
            return null;
        }
        var fullPath = baseUrl.AbsolutePath.TrimEnd('/') + literalPath;
        if (fullPath.Split('/').Any(segment => segment is "." or ".."))
        {
            problem = $"path '{path}' has a '.' or '..' segment.";
            return null;
        }
        return new OperationUrlTemplate(baseUrl, baseUrl.AbsoluteUri.TrimEnd('/') + path, pathVariables, queryVariables, fullPath.Split('/').Length);
    }

    static bool CheckName(string path, string name, out string? problem)
    {
        problem = null;
        if (VariableName().IsMatch(name))
            return true;
        problem = name.Length > 0 && "+#./;&=,!@|*:".Contains(name[0], StringComparison.Ordinal) || name.EndsWith('*') || name.Contains(':', StringComparison.Ordinal)
            ? $"path '{path}': {{{name}}} uses an RFC 6570 operator or modifier that can place reserved characters in the URL; only {{name}} in the path and a trailing {{?a,b}} are allowed."
            : $"path '{path}': '{name}' is not a variable name (letters, digits and '_').";
        return false;
    }

    /// <summary>The URL for these arguments, or why there is none (<see cref="UrlProblem.Code"/> is a reason code).</summary>
    public (Uri? Url, UrlProblem? Problem) Expand(JsonElement arguments)
    {
        var values = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (var name in PathVariables)
        {
            if (!arguments.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
                return (null, new(ReasonCodes.MissingPathArgument, $"Argument '{name}' is part of the path and must be given."));
            if (Scalar(value) is not { } text)
                return (null, new(ReasonCodes.InvalidPathArgument, $"Argument '{name}' is part of the path and must be a string, number or boolean."));
            if (MovesThePath(text) is { } why)
                return (null, new(ReasonCodes.ArgumentEscapesTemplate, $"Argument '{name}' is refused as a path segment: {why}."));
            values[name] = text;
        }
        foreach (var name in QueryVariables)
        {
            if (!arguments.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
                continue;
            if (value.ValueKind == JsonValueKind.Array)
            {
                var items = new List<string>();
                foreach (var item in value.EnumerateArray())
                {
                    if (Scalar(item) is not { } itemText)
                        return (null, new(ReasonCodes.InvalidQueryArgument, $"Argument '{name}' is a query parameter: its items must be strings, numbers or booleans."));
                    items.Add(itemText);
                }
                if (items.Count > 0)
                    values[name] = items;
                continue;
            }
            if (Scalar(value) is not { } text)
                return (null, new(ReasonCodes.InvalidQueryArgument, $"Argument '{name}' is a query parameter and cannot be an object."));
            values[name] = text;
        }

        string expanded;
        try
        {
            expanded = Std.UriTemplate.Expand(_template, values);
        }
        catch (ArgumentException ex)
        {
            return (null, new(ReasonCodes.ArgumentEscapesTemplate, $"The URL could not be built: {ex.Message}"));
        }
        return Verify(expanded);
    }

    (Uri?, UrlProblem?) Verify(string expanded)
    {
        if (!Uri.TryCreate(expanded, UriKind.Absolute, out var url))
            return (null, new(ReasonCodes.ArgumentEscapesTemplate, "The arguments do not make a valid URL."));
        if (url.Scheme != _base.Scheme || !string.Equals(url.IdnHost, _base.IdnHost, StringComparison.OrdinalIgnoreCase) || url.Port != _base.Port
            || !string.IsNullOrEmpty(url.UserInfo) || !string.IsNullOrEmpty(url.Fragment))
            return (null, new(ReasonCodes.ArgumentEscapesTemplate, "The arguments would send the request to another host."));
        if (url.AbsolutePath.Split('/').Length != _pathSegments)
            return (null, new(ReasonCodes.ArgumentEscapesTemplate, "The arguments would change the path's segments."));
        if (url.Query.Length > 1)
        {
            foreach (var pair in url.Query[1..].Split('&'))
            {
                var key = Uri.UnescapeDataString(pair.Split('=', 2)[0]);
                if (!QueryVariables.Contains(key, StringComparer.Ordinal))
                    return (null, new(ReasonCodes.ArgumentEscapesTemplate, "The arguments would add a query parameter the operation does not have."));
            }
        }
        return (url, null);
    }

    static string? Scalar(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Number => value.GetRawText(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => null,
    };

    /// <summary>
    /// Simple expansion encodes every reserved character, but not '.'; a server or proxy may decode
    /// %2F before routing, and fold compatibility characters (fullwidth '．', '／') into ASCII. So a
    /// path value may not be '.', '..' or empty, nor hold '/' or '\' in any of these forms.
    /// </summary>
    internal static string? MovesThePath(string value)
    {
        if (value.Length == 0)
            return "it is empty, which would join two segments";
        var folded = Fold(value);
        if (folded is "." or "..")
            return "'.' and '..' name another path";
        foreach (var c in folded)
            if (c is '/' or '\\')
                return "it contains '/' or '\\' (or a look-alike), which some servers and proxies read as a path separator even percent-encoded";
        return null;
    }

    static string Fold(string value)
    {
        string normalized;
        try
        {
            normalized = value.Normalize(NormalizationForm.FormKC);
        }
        catch (Exception ex) when (ex is ArgumentException or PlatformNotSupportedException)
        {
            // Not valid Unicode (a lone surrogate), or no normalization data: the table below still folds.
            normalized = value;
        }
        if (!normalized.Any(LookAlikes.ContainsKey))
            return normalized;
        var folded = new StringBuilder(normalized.Length);
        foreach (var c in normalized)
            folded.Append(LookAlikes.TryGetValue(c, out var ascii) ? ascii : c);
        return folded.ToString();
    }

    /// <summary>
    /// Every code point NFKC folds into text with '.', '/' or '\' that matters here (found by normalizing
    /// all of Unicode with ICU). Spelled out because string.Normalize folds nothing when globalization is
    /// invariant, as every AgentBus service runs (InvariantGlobalization in Directory.Build.props).
    /// </summary>
    static readonly Dictionary<char, string> LookAlikes = new()
    {
        ['\u2024'] = ".", ['\u2025'] = "..", ['\u2026'] = "...", ['\uFE19'] = "...", ['\uFE30'] = "..", ['\uFE52'] = ".", ['\uFF0E'] = ".",
        ['\u2100'] = "a/c", ['\u2101'] = "a/s", ['\u2105'] = "c/o", ['\u2106'] = "c/u", ['\uFF0F'] = "/",
        ['\uFE68'] = "\\", ['\uFF3C'] = "\\",
    };

    [GeneratedRegex("^[A-Za-z0-9_]{1,64}$")]
    private static partial Regex VariableName();

    public static class ReasonCodes
    {
        public const string MissingPathArgument = "missing_path_argument";
        public const string InvalidPathArgument = "invalid_path_argument";
        public const string InvalidQueryArgument = "invalid_query_argument";
        public const string ArgumentEscapesTemplate = "argument_escapes_template";
    }
}

public sealed record UrlProblem(string Code, string Message);
