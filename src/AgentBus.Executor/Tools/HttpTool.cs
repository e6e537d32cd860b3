using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace AgentBus.Executor.Tools;

/// <summary>
/// The generic HTTP tool: the arguments name the method, the URL and an optional JSON body; the
/// destination must be on the tool's allowlist (checked again here, whatever policy said); the
/// secret goes into the configured header; the run and action ids travel as headers, the
/// idempotency key as Idempotency-Key. One attempt per call: ToolRunner times it and retries it.
/// </summary>
public sealed class HttpTool(HttpClient http, ToolSecret secret, IOptions<ToolOptions> options) : ITool
{
    static readonly HashSet<string> Methods = ["GET", "POST", "PUT", "PATCH", "DELETE"];

    readonly HttpToolOptions _options = options.Value.Http;
    readonly bool _readOnly = options.Value.ReadOnly;

    public async Task<ToolOutcome> ExecuteAsync(ToolCall call, CancellationToken cancellationToken)
    {
        var (method, url, body, problem) = ReadRequest(call.Arguments);
        if (problem is not null)
            return ToolOutcome.Refusal("invalid_arguments", problem);

        if (_readOnly && method is not "GET")
            return ToolOutcome.Refusal("method_not_allowed", $"This tool is read-only: {method} is refused, only GET may run.");

        if (!IsAllowed(url!))
            return ToolOutcome.Refusal("destination_not_allowed",
                $"{url!.Host}:{url.Port} is not on this tool's allowlist.");

        using var request = new HttpRequestMessage(new HttpMethod(method!), url);
        if (body is { } json)
            request.Content = new StringContent(json.GetRawText(), Encoding.UTF8, "application/json");
        request.Headers.TryAddWithoutValidation(_options.SecretHeader, _options.SecretPrefix + secret.Value);
        HttpExchange.AddTracking(request, call);
        return await HttpExchange.SendAsync(http, request, _options.MaxResponseBytes, ExternalReference, cancellationToken);
    }

    internal sealed record Request(string? Method, Uri? Url, JsonElement? Body, string? Problem);

    internal static Request ReadRequest(JsonElement arguments)
    {
        if (arguments.ValueKind != JsonValueKind.Object)
            return new(null, null, null, "The arguments must be a JSON object.");
        if (!arguments.TryGetProperty("method", out var methodElement) || methodElement.ValueKind != JsonValueKind.String)
            return new(null, null, null, "'method' must be one of GET, POST, PUT, PATCH, DELETE.");
        var method = methodElement.GetString()!.ToUpperInvariant();
        if (!Methods.Contains(method))
            return new(null, null, null, "'method' must be one of GET, POST, PUT, PATCH, DELETE.");
        if (!arguments.TryGetProperty("url", out var urlElement) || urlElement.ValueKind != JsonValueKind.String
            || !Uri.TryCreate(urlElement.GetString(), UriKind.Absolute, out var url)
            || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps)
            || !string.IsNullOrEmpty(url.UserInfo))
            return new(null, null, null, "'url' must be an absolute http or https URL without credentials.");
        JsonElement? body = arguments.TryGetProperty("body", out var bodyElement) && bodyElement.ValueKind != JsonValueKind.Null
            ? bodyElement
            : null;
        return new(method, url, body, null);
    }

    bool IsAllowed(Uri url) =>
        _options.AllowedHosts.Any(allowed => string.Equals(allowed, $"{url.IdnHost}:{url.Port}", StringComparison.OrdinalIgnoreCase));

    string? ExternalReference(HttpResponseMessage response, JsonElement body) =>
        HttpExchange.Reference(response, body, _options.ExternalReferenceProperty is { Length: > 0 } property ? "/" + property : null);
}
