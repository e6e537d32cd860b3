using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AgentBus.SandboxApi;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace AgentBus.UnitTests.Sandbox;

public enum Credential { Payments, Ticketing, None, Wrong }

public sealed record Reply(HttpStatusCode Status, JsonElement Body, HttpResponseHeaders Headers, string? MediaType)
{
    public string? Error => Body.ValueKind == JsonValueKind.Object && Body.TryGetProperty("error", out var error) ? error.GetString() : null;

    public string Detail => Body.GetProperty("detail").GetString()!;
}

/// <summary>
/// The sandbox in this process on a free loopback port, started as the pipeline fixture starts it
/// (AddSandbox, MapSandbox, keys from configuration), with helpers that send a request with either key.
/// </summary>
public sealed class SandboxFixture : IAsyncLifetime
{
    public const string PaymentsKey = "payments-key-for-tests";
    public const string TicketingKey = "ticketing-key-for-tests";

    WebApplication? _app;

    public WebApplication App => _app ?? throw new InvalidOperationException("The sandbox has not started.");

    public HttpClient Client { get; } = new();

    public IReadOnlyCollection<RecordedCall> Calls => App.Services.GetRequiredService<CallLog>().Calls;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Test", ContentRootPath = AppContext.BaseDirectory });
        builder.AddSandbox();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Urls"] = "http://127.0.0.1:0",
            ["Sandbox:TicketingKey"] = TicketingKey,
            ["Sandbox:PaymentsKey"] = PaymentsKey,
            ["Logging:LogLevel:Default"] = "Warning",
        });
        _app = builder.Build();
        _app.MapSandbox();
        await _app.StartAsync();
        Client.BaseAddress = new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    /// <summary>DELETE /calls: the record emptied and the shop back to its seeded orders.</summary>
    public async Task ResetAsync() =>
        Assert.Equal(HttpStatusCode.NoContent, (await Client.DeleteAsync("/calls")).StatusCode);

    /// <summary>
    /// A request to the path exactly as written: dot segments and escapes such as %2F reach the server
    /// as they are, not tidied by System.Uri.
    /// </summary>
    public HttpRequestMessage Request(HttpMethod method, string pathAndQuery, Credential credential, HttpContent? content = null,
        string? idempotencyKey = null)
    {
        var uri = new Uri(Client.BaseAddress!.GetLeftPart(UriPartial.Authority) + pathAndQuery,
            new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });
        var request = new HttpRequestMessage(method, uri) { Content = content };
        switch (credential)
        {
            case Credential.Payments:
                request.Headers.Add("X-Api-Key", PaymentsKey);
                break;
            case Credential.Ticketing:
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", TicketingKey);
                break;
            case Credential.Wrong:
                request.Headers.Add("X-Api-Key", "not-the-key");
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "not-the-key");
                break;
        }
        if (idempotencyKey is not null)
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        return request;
    }

    public async Task<Reply> SendAsync(HttpRequestMessage request)
    {
        using (request)
        using (var response = await Client.SendAsync(request))
        {
            var text = await response.Content.ReadAsStringAsync();
            var mediaType = response.Content.Headers.ContentType?.MediaType;
            var body = mediaType == "application/json" && text.Length > 0 ? JsonDocument.Parse(text).RootElement.Clone() : default;
            return new Reply(response.StatusCode, body, response.Headers, mediaType);
        }
    }

    public Task<Reply> SendAsync(HttpMethod method, string pathAndQuery, Credential credential, HttpContent? content = null,
        string? idempotencyKey = null) =>
        SendAsync(Request(method, pathAndQuery, credential, content, idempotencyKey));

    public Task<Reply> GetOrderAsync(string orderId) => SendAsync(HttpMethod.Get, $"/api/orders/{orderId}", Credential.Payments);

    public Task<Reply> RefundAsync(string orderId, decimal amountUsd, string reason = "Item arrived damaged", string? idempotencyKey = null) =>
        SendAsync(HttpMethod.Post, $"/api/orders/{orderId}/refunds", Credential.Payments,
            Json(JsonSerializer.Serialize(new { amountUsd, reason })), idempotencyKey);

    public Task<Reply> CreateTicketAsync(string title = "Refund not received", string priority = "normal", string? idempotencyKey = null) =>
        SendAsync(HttpMethod.Post, "/api/tickets", Credential.Ticketing, Json(JsonSerializer.Serialize(new { title, priority })), idempotencyKey);

    public Task<Reply> CommentAsync(string ticketId, string body, string? visibility = null, string? idempotencyKey = null) =>
        SendAsync(HttpMethod.Post, $"/api/tickets/{ticketId}/comments", Credential.Ticketing,
            Form(visibility is null ? [("body", body)] : [("body", body), ("visibility", visibility)]), idempotencyKey);

    public static HttpContent Json(string raw) => new StringContent(raw, Encoding.UTF8, "application/json");

    public static HttpContent Form(params (string Name, string Value)[] fields) =>
        new FormUrlEncodedContent(fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value)));
}
