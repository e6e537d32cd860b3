using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace AgentBus.SandboxApi.Shop;

/// <summary>
/// The stateful shop under /api, as openapi.yaml describes it: each route checks the key of its API,
/// reads its body, asks the ShopStore, records the call in the CallLog (with its status, reference and
/// body), then waits the configured latency and answers.
/// </summary>
internal static class ShopEndpoints
{
    /// <summary>Far above any valid body (the longest is a 5,000-character description): a larger one is 413.</summary>
    internal const int MaxBodyBytes = 256 * 1024;

    internal static readonly JsonSerializerOptions ResponseJson = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // Answers are read by programs and language models, never embedded in HTML: "it's" rather than "it\u0027s".
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>openapi.yaml, embedded in the assembly: served as it is written.</summary>
    internal static readonly Lazy<string> Document = new(() =>
    {
        using var stream = typeof(ShopEndpoints).Assembly.GetManifestResourceStream("AgentBus.SandboxApi.openapi.yaml")
            ?? throw new InvalidOperationException("openapi.yaml is not embedded in the sandbox assembly.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    static readonly JsonDocumentOptions ReadOptions = new() { MaxDepth = 32, AllowDuplicateProperties = false };

    enum Api { Payments, Ticketing }

    enum BodyKind { None, Json, Form }

    sealed record Call(ShopStore Shop, HttpRequest Request, JsonElement Json, IReadOnlyDictionary<string, StringValues> Form)
    {
        public string? IdempotencyKey => ShopRequests.IdempotencyKey(Request.Headers["Idempotency-Key"]);
    }

    sealed record RequestBody(JsonElement Json, IReadOnlyDictionary<string, StringValues> Form, JsonElement? Recorded, ShopResult? Problem);

    internal static IEndpointRouteBuilder MapShop(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/orders/{orderId}", (HttpContext http, string orderId) =>
            Serve(http, Api.Payments, BodyKind.None, call => call.Shop.GetOrder(ShopRequests.OrderId(orderId))));
        app.MapPost("/api/orders/{orderId}/refunds", (HttpContext http, string orderId) =>
            Serve(http, Api.Payments, BodyKind.Json, call =>
                call.Shop.RefundOrder(ShopRequests.OrderId(orderId), ShopRequests.Refund(call.Json), call.IdempotencyKey)));
        app.MapGet("/api/refunds/{refundId}", (HttpContext http, string refundId) =>
            Serve(http, Api.Payments, BodyKind.None, call => call.Shop.GetRefund(ShopRequests.RefundId(refundId))));
        app.MapPost("/api/refunds/{refundId}/cancel", (HttpContext http, string refundId) =>
            Serve(http, Api.Payments, BodyKind.None, call => call.Shop.CancelRefund(ShopRequests.RefundId(refundId))));

        app.MapPost("/api/tickets", (HttpContext http) =>
            Serve(http, Api.Ticketing, BodyKind.Json, call => call.Shop.CreateTicket(ShopRequests.Ticket(call.Json), call.IdempotencyKey)));
        app.MapGet("/api/tickets/{ticketId}", (HttpContext http, string ticketId) =>
            Serve(http, Api.Ticketing, BodyKind.None, call => call.Shop.GetTicket(ShopRequests.TicketId(ticketId))));
        app.MapPost("/api/tickets/{ticketId}/comments", (HttpContext http, string ticketId) =>
            Serve(http, Api.Ticketing, BodyKind.Form, call =>
                call.Shop.AddComment(ShopRequests.TicketId(ticketId), ShopRequests.Comment(call.Form), call.IdempotencyKey)));
        app.MapPost("/api/tickets/{ticketId}/close", (HttpContext http, string ticketId) =>
            Serve(http, Api.Ticketing, BodyKind.None, call =>
                call.Shop.CloseTicket(ShopRequests.TicketId(ticketId), ShopRequests.Resolution(call.Request.Query["resolution"]))));
        return app;
    }

    static async Task Serve(HttpContext http, Api api, BodyKind kind, Func<Call, ShopResult> operation)
    {
        var options = http.RequestServices.GetRequiredService<IOptions<SandboxOptions>>().Value;
        var log = http.RequestServices.GetRequiredService<CallLog>();
        var shop = http.RequestServices.GetRequiredService<ShopStore>();
        var request = http.Request;

        var authorized = api == Api.Payments
            ? SandboxEndpoints.Authorized(request.Headers["X-Api-Key"], options.PaymentsKey)
            : SandboxEndpoints.Authorized(request.Headers.Authorization, "Bearer " + options.TicketingKey);
        var body = await ReadBody(request, kind);

        ShopResult result;
        if (!authorized)
            result = ShopResult.Error(401, "unauthorized", api == Api.Payments
                ? "Send the payments key in the X-Api-Key header."
                : "Send the ticketing key as Authorization: Bearer <key>.");
        else if (body.Problem is { } problem)
            result = problem;
        else
        {
            try
            {
                result = operation(new Call(shop, request, body.Json, body.Form));
            }
            catch (InvalidShopRequestException ex)
            {
                result = ShopResult.Invalid(ex.Message);
            }
        }

        log.Add(new RecordedCall(log.NextSequence(), DateTimeOffset.UtcNow, request.Method, request.Path, result.Status, authorized,
            request.Headers["X-AgentBus-Run-Id"].FirstOrDefault(), request.Headers["X-AgentBus-Action-Id"].FirstOrDefault(),
            request.Headers["Idempotency-Key"].FirstOrDefault(), result.Replayed, result.Reference, body.Recorded));

        // Done and recorded, then slow: a caller that dies while waiting has still changed the shop.
        var delay = options.LatencyMs + SandboxEndpoints.RequestedDelayMs(request);
        if (delay > 0)
            await Task.Delay(delay, http.RequestAborted);

        if (result.Replayed)
            http.Response.Headers["Idempotent-Replayed"] = "true";
        if (result.Location is { } location)
            http.Response.Headers.Location = location;
        await Results.Json(result.Body, ResponseJson, statusCode: result.Status).ExecuteAsync(http);
    }

    /// <summary>The body the route expects, or the answer to a body it cannot take (415, 413, 422); never throws for what a caller sent.</summary>
    static async Task<RequestBody> ReadBody(HttpRequest request, BodyKind kind)
    {
        if (kind == BodyKind.None)
            return new(default, Empty, null, null);

        var mediaType = MediaTypeHeaderValue.TryParse(request.ContentType, out var parsed) ? parsed.MediaType.Value : null;
        var expected = kind == BodyKind.Json ? "application/json" : "application/x-www-form-urlencoded";
        if (!string.Equals(mediaType, expected, StringComparison.OrdinalIgnoreCase))
            return new(default, Empty, null, ShopResult.Error(415, "unsupported_media_type",
                $"Send the body as {expected}{(kind == BodyKind.Form ? " (form fields, not JSON)" : "")}; got {(mediaType is null ? "no Content-Type" : Shorten(mediaType))}."));

        byte[]? bytes;
        try
        {
            bytes = await ReadBounded(request.Body, MaxBodyBytes, request.HttpContext.RequestAborted);
        }
        catch (BadHttpRequestException ex)
        {
            return new(default, Empty, null, ShopResult.Error(ex.StatusCode, "bad_request", "The body could not be read: " + ex.Message));
        }
        if (bytes is null)
            return new(default, Empty, null, ShopResult.Error(413, "payload_too_large", $"The body is larger than {MaxBodyBytes} bytes."));

        return kind == BodyKind.Json ? ReadJson(bytes) : await ReadForm(bytes, request.HttpContext.RequestAborted);
    }

    static RequestBody ReadJson(byte[] bytes)
    {
        try
        {
            StrictUtf8.GetCharCount(bytes);
            using var document = JsonDocument.Parse(bytes, ReadOptions);
            var json = document.RootElement.Clone();
            // An escape such as "\ud800" parses, but no string can hold it: reading or recording it later would throw.
            JsonSerializer.SerializeToUtf8Bytes(json);
            return new(json, Empty, json, null);
        }
        catch (DecoderFallbackException)
        {
            return Unreadable("The body is not valid UTF-8.");
        }
        catch (JsonException ex)
        {
            return Unreadable($"The body is not valid JSON: {ex.Message}");
        }
        catch (InvalidOperationException)
        {
            return Unreadable("The body holds a string that is not valid Unicode (an unpaired surrogate escape).");
        }
    }

    static async Task<RequestBody> ReadForm(byte[] bytes, CancellationToken cancellationToken)
    {
        try
        {
            using var stream = new MemoryStream(bytes, writable: false);
            using var reader = new FormReader(stream);
            var form = await reader.ReadFormAsync(cancellationToken);
            var recorded = JsonSerializer.SerializeToElement(form.ToDictionary(
                field => field.Key, field => field.Value.Count == 1 ? (object?)field.Value[0] : field.Value.ToArray()));
            return new(default, form, recorded, null);
        }
        catch (InvalidDataException ex)
        {
            return Unreadable($"The form body could not be read: {ex.Message}");
        }
    }

    static RequestBody Unreadable(string detail) => new(default, Empty, null, ShopResult.Invalid(detail));

    /// <summary>The whole body, or null when it is longer than the limit.</summary>
    static async Task<byte[]?> ReadBounded(Stream body, int limit, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > limit)
                return null;
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    static string Shorten(string value) => value.Length > 60 ? value[..60] + "…" : value;

    static readonly IReadOnlyDictionary<string, StringValues> Empty = new Dictionary<string, StringValues>();
}
