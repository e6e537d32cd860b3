using System.Text;
using System.Text.Json;

namespace AgentBus.Executor.Tools;

/// <summary>
/// Sends one HTTP request that a tool built and says honestly what is known about it: not sent
/// (could not connect), maybe sent (broke off, 5xx), refused by the system (4xx) or done, with the
/// response body read within a size limit. Shared by the generic http tool and catalog operations.
/// </summary>
static class HttpExchange
{
    public const string RunIdHeader = "X-AgentBus-Run-Id";
    public const string ActionIdHeader = "X-AgentBus-Action-Id";
    public const string IdempotencyKeyHeader = "Idempotency-Key";

    /// <summary>The run and action ids for the system's own logs, and the key that makes a retry recognisable.</summary>
    public static void AddTracking(HttpRequestMessage request, ToolCall call)
    {
        request.Headers.Add(RunIdHeader, call.RunId);
        request.Headers.Add(ActionIdHeader, call.ActionId);
        request.Headers.Add(IdempotencyKeyHeader, call.IdempotencyKey);
    }

    /// <param name="reference">Names the record the call created or read, from the response and its JSON body (Undefined when there is none).</param>
    public static async Task<ToolOutcome> SendAsync(HttpClient http, HttpRequestMessage request, int maxResponseBytes,
        Func<HttpResponseMessage, JsonElement, string?> reference, CancellationToken cancellationToken)
    {
        var url = request.RequestUri!;
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        }
        catch (HttpRequestException ex) when (ex.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError)
        {
            return ToolOutcome.NotExecuted("unreachable", $"Could not connect to {url.Host}:{url.Port}.", transient: true);
        }
        catch (HttpRequestException ex)
        {
            return ToolOutcome.Unknown("transport_error", $"The request may have reached {url.Host}: {ex.HttpRequestError}.");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // HttpClient has no overall timeout here; only the connect timeout cancels on its own.
            return ToolOutcome.NotExecuted("unreachable", $"Could not connect to {url.Host}:{url.Port} in time.", transient: true);
        }

        using (response)
        {
            var (result, body) = await ReadResult(response, maxResponseBytes, cancellationToken);
            if (response.IsSuccessStatusCode)
                return ToolOutcome.Success(result, reference(response, body));

            var code = (int)response.StatusCode;
            var error = $"{url.Host} answered {code} {response.ReasonPhrase}.";
            return code switch
            {
                // The system says it did not take the request (yet): safe to try again for any tool.
                429 or 408 => ToolOutcome.NotExecuted($"http_{code}", error, transient: true),
                >= 500 => ToolOutcome.Unknown($"http_{code}", error),
                _ => ToolOutcome.NotExecuted($"http_{code}", error),
            };
        }
    }

    /// <summary>The value at a JSON Pointer into the response body when it is a string or number, else the Location header.</summary>
    public static string? Reference(HttpResponseMessage response, JsonElement body, string? pointer)
    {
        if (pointer is { Length: > 0 } && body.ValueKind == JsonValueKind.Object)
        {
            var current = body;
            var found = true;
            foreach (var token in pointer[1..].Split('/'))
            {
                var name = token.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
                if (current.ValueKind == JsonValueKind.Object && current.TryGetProperty(name, out var next))
                    current = next;
                else if (current.ValueKind == JsonValueKind.Array && int.TryParse(name, out var index) && index >= 0 && index < current.GetArrayLength())
                    current = current[index];
                else
                {
                    found = false;
                    break;
                }
            }
            if (found && current.ValueKind is JsonValueKind.String or JsonValueKind.Number)
                return current.ToString();
        }
        return response.Headers.Location?.ToString();
    }

    /// <summary>
    /// Never throws: the call has happened by now, so a body that is too large or breaks off still
    /// yields an outcome (with what could be read) rather than a fault that would run it again.
    /// </summary>
    static async Task<(JsonElement Result, JsonElement Body)> ReadResult(HttpResponseMessage response, int limit, CancellationToken cancellationToken)
    {
        byte[] bytes;
        string? bodyProblem = null;
        try
        {
            (bytes, var truncated) = await ReadBounded(response.Content, limit, cancellationToken);
            if (truncated)
                bodyProblem = $"The response body was cut at {limit} bytes.";
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
        return (JsonSerializer.SerializeToElement(result), body ?? default);
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
}
