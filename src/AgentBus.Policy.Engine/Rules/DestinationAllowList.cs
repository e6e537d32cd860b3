using System.Text.Json;

namespace AgentBus.Policy.Engine.Rules;

/// <summary>
/// Places a tool may send data to: hosts (name or name:port, any scheme), URL prefixes (scheme,
/// host, port and a path prefix that ends at a segment boundary) and channels (exact names, or a
/// trailing '*' for a prefix). A value that parses as an absolute URL is checked as a URL; any
/// other string as a channel name.
/// </summary>
public sealed class DestinationAllowList
{
    readonly (string Host, int? Port)[] _hosts;
    readonly Uri[] _prefixes;
    readonly string[] _channels;

    public DestinationAllowList(IEnumerable<string> hosts, IEnumerable<Uri> urlPrefixes, IEnumerable<string> channels)
    {
        _hosts = hosts.Select(ParseHost).ToArray();
        _prefixes = urlPrefixes.ToArray();
        _channels = channels.ToArray();
        Hosts = hosts.ToArray();
        UrlPrefixes = _prefixes.Select(p => p.ToString()).ToArray();
        Channels = _channels;
    }

    public IReadOnlyList<string> Hosts { get; }
    public IReadOnlyList<string> UrlPrefixes { get; }
    public IReadOnlyList<string> Channels { get; }

    public string Describe() => string.Join(", ", Hosts.Select(h => "host " + h).Concat(UrlPrefixes).Concat(Channels.Select(c => "channel " + c)));

    static (string, int?) ParseHost(string host)
    {
        var colon = host.LastIndexOf(':');
        if (colon > 0 && int.TryParse(host.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port))
            return (host[..colon].ToLowerInvariant(), port);
        return (host.ToLowerInvariant(), null);
    }

    /// <summary>Checks one destination value from the arguments; null when allowed, else why not.</summary>
    public string? Violation(JsonElement value, string where)
    {
        if (value.ValueKind != JsonValueKind.String)
            return $"the destination at {where} must be a string";
        var text = value.GetString()!;
        if (Uri.TryCreate(text, UriKind.Absolute, out var url) && !string.IsNullOrEmpty(url.Host))
        {
            if (!string.IsNullOrEmpty(url.UserInfo))
                return $"the destination at {where} carries credentials, which is never allowed";
            return AllowsUrl(url) ? null : $"{url.Scheme}://{url.Authority}{url.AbsolutePath} (at {where}) is not an allowed destination";
        }
        return AllowsChannel(text) ? null : $"'{Truncate(text)}' (at {where}) is not an allowed destination";
    }

    bool AllowsUrl(Uri url)
    {
        var host = url.IdnHost;
        foreach (var (allowedHost, port) in _hosts)
            if (string.Equals(allowedHost, host, StringComparison.OrdinalIgnoreCase) && (port is null || port == url.Port))
                return true;

        foreach (var prefix in _prefixes)
        {
            if (!string.Equals(prefix.Scheme, url.Scheme, StringComparison.OrdinalIgnoreCase)
                || !string.Equals(prefix.IdnHost, host, StringComparison.OrdinalIgnoreCase)
                || prefix.Port != url.Port)
                continue;
            var allowedPath = prefix.AbsolutePath;
            var path = url.AbsolutePath;
            if (!path.StartsWith(allowedPath, StringComparison.Ordinal))
                continue;
            // "/ticketing" allows "/ticketing" and "/ticketing/…", never "/ticketing-admin".
            if (path.Length == allowedPath.Length || allowedPath.EndsWith('/') || path[allowedPath.Length] == '/')
                return true;
        }
        return false;
    }

    bool AllowsChannel(string channel)
    {
        foreach (var allowed in _channels)
        {
            if (allowed.EndsWith('*'))
            {
                if (channel.StartsWith(allowed.AsSpan(0, allowed.Length - 1), StringComparison.Ordinal))
                    return true;
            }
            else if (string.Equals(allowed, channel, StringComparison.Ordinal))
                return true;
        }
        return false;
    }

    static string Truncate(string text) => text.Length <= 64 ? text : text[..64] + "…";
}
