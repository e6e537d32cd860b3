using System.Text.Json;
using AgentBus.SandboxApi.Shop;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace AgentBus.SandboxApi;

public static class SandboxEndpoints
{
    public static IHostApplicationBuilder AddSandbox(this IHostApplicationBuilder builder)
    {
        // Defaults below every other configuration source, so --urls or Urls=... still win.
        builder.Configuration.Sources.Insert(0, new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource
        {
            InitialData = new Dictionary<string, string?>
            {
                ["Urls"] = "http://127.0.0.1:5080",
                ["Logging:LogLevel:Default"] = "Warning",
                ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Information",
            },
        });
        builder.Services.AddOptions<SandboxOptions>().BindConfiguration(SandboxOptions.Section)
            .PostConfigure(o =>
            {
                if (o.KeysDirectory is not { Length: > 0 } keys)
                    return;
                if (o.TicketingKey.Length == 0 && File.Exists(Path.Combine(keys, "ticketing")))
                    o.TicketingKey = File.ReadAllText(Path.Combine(keys, "ticketing")).Trim();
                if (o.PaymentsKey.Length == 0 && File.Exists(Path.Combine(keys, "payments")))
                    o.PaymentsKey = File.ReadAllText(Path.Combine(keys, "payments")).Trim();
            })
            .Validate(o => o.TicketingKey.Length > 0 && o.PaymentsKey.Length > 0,
                "Sandbox:TicketingKey and Sandbox:PaymentsKey must both be set, or Sandbox:KeysDirectory must hold the files 'ticketing' and 'payments'.")
            .ValidateOnStart();
        builder.Services.AddSingleton<CallLog>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ShopStore>();
        return builder;
    }

    public static WebApplication MapSandbox(this WebApplication app)
    {
        app.MapPost("/ticketing/tickets", (HttpContext http, CallLog log, IOptions<SandboxOptions> options) =>
            Record(http, log, options.Value, Authorized(http.Request.Headers.Authorization, "Bearer " + options.Value.TicketingKey), "TCK"));
        app.MapPost("/ticketing/tickets/{id}/comments", (HttpContext http, CallLog log, IOptions<SandboxOptions> options) =>
            Record(http, log, options.Value, Authorized(http.Request.Headers.Authorization, "Bearer " + options.Value.TicketingKey), "CMT"));
        app.MapPost("/payments/refunds", (HttpContext http, CallLog log, IOptions<SandboxOptions> options) =>
            Record(http, log, options.Value, Authorized(http.Request.Headers["X-Api-Key"], options.Value.PaymentsKey), "RF"));
        app.MapGet("/payments/orders/{id}", (HttpContext http, CallLog log, IOptions<SandboxOptions> options) =>
            Record(http, log, options.Value, Authorized(http.Request.Headers["X-Api-Key"], options.Value.PaymentsKey), "ORD"));

        // The stateful shop beside the recorder, and the document that describes it.
        app.MapShop();
        app.MapGet("/openapi.yaml", () => Results.Text(ShopEndpoints.Document.Value, "application/yaml"));

        app.MapGet("/calls", (CallLog log) => Results.Ok(log.Calls));
        // One call resets a run: the record and the shop (back to its seeded orders).
        app.MapDelete("/calls", (CallLog log, ShopStore shop) =>
        {
            log.Clear();
            shop.Reset();
            return Results.NoContent();
        });
        app.MapGet("/health", () => Results.Ok("ok"));
        return app;
    }

    /// <summary>?delayMs=N (at most a minute) slows this one request, e.g. to stop an executor in the middle of a call.</summary>
    internal static int RequestedDelayMs(HttpRequest request) =>
        int.TryParse(request.Query["delayMs"], out var delay) ? Math.Clamp(delay, 0, 60_000) : 0;

    internal static bool Authorized(Microsoft.Extensions.Primitives.StringValues presented, string expected) =>
        presented.Count == 1 && System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.UTF8.GetBytes(presented[0] ?? ""), System.Text.Encoding.UTF8.GetBytes(expected));

    static async Task<IResult> Record(HttpContext http, CallLog log, SandboxOptions options, bool authorized, string prefix)
    {
        JsonElement? body = null;
        if (http.Request.ContentLength is > 0 || http.Request.Headers.TransferEncoding.Count > 0)
        {
            try
            {
                body = await JsonSerializer.DeserializeAsync<JsonElement>(http.Request.Body, cancellationToken: http.RequestAborted);
            }
            catch (JsonException)
            {
                body = null;
            }
        }

        var sequence = log.NextSequence();
        var idempotencyKey = http.Request.Headers["Idempotency-Key"].FirstOrDefault();
        var reference = $"{prefix}-{sequence:D6}";
        var firstReference = authorized ? log.Remember(idempotencyKey, reference) : null;
        var status = !authorized ? 401 : http.Request.Method == "GET" ? 200 : 201;

        log.Add(new RecordedCall(sequence, DateTimeOffset.UtcNow, http.Request.Method, http.Request.Path, status, authorized,
            http.Request.Headers["X-AgentBus-Run-Id"].FirstOrDefault(), http.Request.Headers["X-AgentBus-Action-Id"].FirstOrDefault(),
            idempotencyKey, firstReference is not null, authorized ? firstReference ?? reference : null, body));

        // Recorded on receipt, then slow: a caller that dies while waiting has still reached the system.
        var delay = options.LatencyMs + RequestedDelayMs(http.Request);
        if (delay > 0)
            await Task.Delay(delay, http.RequestAborted);

        if (!authorized)
            return Results.Json(new { error = "unauthorized" }, statusCode: 401);
        return Results.Json(new { id = firstReference ?? reference, status = "recorded", replayed = firstReference is not null }, statusCode: status);
    }
}
