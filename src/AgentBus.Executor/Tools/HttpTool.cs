using System.Net;
using System.Net.Http.Headers;
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
    public const string RunIdHeader = "X-AgentBus-Run-Id";
    public const string ActionIdHeader = "X-AgentBus-Action-Id";
    public const string IdempotencyKeyHeader = "Idempotency-Key";

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
        request.Headers.Add(RunIdHeader, call.RunId);
        request.Headers.Add(ActionIdHeader, call.ActionId);
        request.Headers.Add(IdempotencyKeyHeader, call.IdempotencyKey);

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        }
        catch (HttpRequestException ex) when (ex.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError)
        {
            return ToolOutcome.NotExecuted("unreachable", $"Could not connect to {url!.Host}:{url.Port}.", transient: true);
        }
        catch (HttpRequestException ex)
        {
            return ToolOutcome.Unknown("transport_error", $"The request may have reached {url!.Host}: {ex.HttpRequestError}.");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // HttpClient has no overall timeout here; only the connect timeout cancels on its own.
            return ToolOutcome.NotExecuted("unreachable", $"Could not connect to {url!.Host}:{url.Port} in time.", transient: true);
        }

        using (response)
        {
            var result = await ReadResult(response, cancellationToken);
            if (response.IsSuccessStatusCode)
                return ToolOutcome.Success(result, ExternalReference(response, result));

            var code = (int)response.StatusCode;
            var error = $"{url!.Host} answered {code} {response.ReasonPhrase}.";
            return code switch
            {
                // The system says it did not take the request (yet): safe to try again for any tool.
                429 or 408 => ToolOutcome.NotExecuted($"http_{code}", error, transient: true),
                >= 500 => ToolOutcome.Unknown($"http_{code}", error),
                _ => ToolOutcome.NotExecuted($"http_{code}", error),
            };
        }
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

    /// <summary>
    /// Never throws: the call has happened by now, so a body that is too large or breaks off still
    /// yields an outcome (with what could be read) rather than a fault that would run it again.
    /// </summary>
    async Task<JsonElement> ReadResult(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        byte[] bytes;
        string? bodyProblem = null;
        try
        {
            (bytes, var truncated) = await ReadBounded(response.Content, _options.MaxResponseBytes, cancellationToken);
            if (truncated)
                bodyProblem = $"The response body was cut at {_options.MaxResponseBytes} bytes.";
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException)
        {
            bytes = [];
            bodyProblem = "The response body could not be read.";
        }

        JsonElement? body = null;
        if (bytes.Length > 0 && response.Content.Headers.ContentType?.MediaType is { } media && media.Contains("json", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                body = JsonSerializer.Deserialize<JsonElement>(bytes);
            }
            catch (JsonException)
            {
                body = null;
            }
        }

        var result = new Dictionary<string, object?>
        {
            ["status"] = (int)response.StatusCode,
            ["body"] = body is { } json ? json : (bytes.Length == 0 ? null : Encoding.UTF8.GetString(bytes)),
        };
        if (bodyProblem is not null)
            result["bodyProblem"] = bodyProblem;
        return JsonSerializer.SerializeToElement(result);
    }

    static async Task<(byte[] Bytes, bool Truncated)> ReadBounded(HttpContent content, int limit, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await stream.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                buffer.Write(chunk, 0, (int)(limit - buffer.Length));
                return (buffer.ToArray(), true);
            }
            buffer.Write(chunk, 0, read);
        }
        return (buffer.ToArray(), false);
    }

    string? ExternalReference(HttpResponseMessage response, JsonElement result)
    {
        if (_options.ExternalReferenceProperty is { Length: > 0 } property
            && result.TryGetProperty("body", out var body) && body.ValueKind == JsonValueKind.Object
            && body.TryGetProperty(property, out var reference)
            && reference.ValueKind is JsonValueKind.String or JsonValueKind.Number)
            return reference.ToString();
        return response.Headers.Location?.ToString();
    }
}
