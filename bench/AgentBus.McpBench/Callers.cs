using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AgentBus.Client;
using AgentBus.Contracts;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace AgentBus.McpBench;

/// <summary>A call that did not succeed: the benchmark stops, since it would otherwise time errors.</summary>
sealed class CallFailedException(string message) : Exception(message);

/// <summary>One caller of payments.get_order for ORD-1001; returns the action id (null for the direct call), throws when the call did not succeed.</summary>
interface IOrderCaller : IAsyncDisposable
{
    Task<string?> GetOrderAsync(CancellationToken ct);
}

/// <summary>The baseline: the HTTP request the executor makes, sent straight to the sandbox with the tool's API key.</summary>
sealed class DirectCaller : IOrderCaller
{
    readonly HttpClient _http;

    public DirectCaller(Uri sandbox, string apiKey)
    {
        _http = new HttpClient { BaseAddress = sandbox, Timeout = TimeSpan.FromSeconds(30) };
        _http.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("agentbus-mcp-bench", "1"));
    }

    public async Task<string?> GetOrderAsync(CancellationToken ct)
    {
        using var response = await _http.GetAsync("/api/orders/ORD-1001", ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode)
            throw new CallFailedException($"GET /api/orders/ORD-1001 answered {(int)response.StatusCode}: {Clip(body)}");
        using var json = JsonDocument.Parse(body);
        return json.RootElement.TryGetProperty("orderId", out var id) && id.GetString() == "ORD-1001"
            ? null
            : throw new CallFailedException($"GET /api/orders/ORD-1001 answered without the order: {Clip(body)}");
    }

    internal static string Clip(string text) => text.Length <= 500 ? text : text[..500] + "…";

    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>The pipeline without the gateway: an AgentBus client proposes the operation over AMQP as its own agent and waits for the outcome.</summary>
sealed class AmqpCaller(AgentClient client, string runId) : IOrderCaller
{
    static readonly JsonElement Arguments = JsonSerializer.SerializeToElement(new { orderId = "ORD-1001" });

    public static async Task<AmqpCaller> ConnectAsync(string host, int port, string vhost, string agentId, string password, CancellationToken ct) =>
        new(await AgentClient.ConnectAsync(new AgentClientOptions { Host = host, Port = port, VirtualHost = vhost, AgentId = agentId, Password = password }, ct),
            $"bench-{agentId}");

    public async Task<string?> GetOrderAsync(CancellationToken ct)
    {
        // A fresh idempotency key per call, as the gateway gives a call without one: without a key the policy
        // answers a repeat of the same arguments in the same run with the first outcome and nothing runs.
        var result = await client.RunAsync("payments.get_order", Arguments, runId, TimeSpan.FromSeconds(30),
            idempotencyKey: Guid.CreateVersion7().ToString(), cancellationToken: ct);
        if (result.Decision.ReasonCode == ReasonCodes.DuplicateAction)
            throw new CallFailedException($"payments.get_order over AMQP was answered as a repeat, not run: {result.Decision.Reason}");
        if (result.Succeeded is null)
            throw new CallFailedException($"payments.get_order over AMQP ended {result.Decision.Decision} ({result.Decision.ReasonCode}: {result.Decision.Reason})" +
                                          (result.Failed is { } failed ? $", failed: {failed.Error}" : ""));
        return result.ActionId;
    }

    public ValueTask DisposeAsync() => client.DisposeAsync();
}

/// <summary>The gateway end to end: the official C# MCP client over Streamable HTTP, one session, signed in as its agent.</summary>
sealed class McpCaller(McpClient client) : IOrderCaller
{
    static readonly Dictionary<string, object?> Arguments = new() { ["orderId"] = "ORD-1001" };

    public static async Task<McpCaller> ConnectAsync(Uri gateway, string agentId, string password, CancellationToken ct)
    {
        var transport = new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(gateway, "/mcp"),
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string>
            {
                ["Authorization"] = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{agentId}:{password}")),
            },
        });
        var client = await McpClient.CreateAsync(transport, new McpClientOptions { InitializationTimeout = TimeSpan.FromSeconds(30) }, cancellationToken: ct);
        var tools = await client.ListToolsAsync(cancellationToken: ct);
        if (!tools.Any(t => t.Name == "payments_get_order"))
            throw new CallFailedException($"The gateway does not offer payments_get_order to {agentId}; it offers: {string.Join(", ", tools.Select(t => t.Name))}");
        return new McpCaller(client);
    }

    public async Task<string?> GetOrderAsync(CancellationToken ct)
    {
        var result = await client.CallToolAsync("payments_get_order", Arguments, cancellationToken: ct);
        var text = string.Join(" ", result.Content.OfType<TextContentBlock>().Select(t => t.Text));
        if (result.IsError == true || result.StructuredContent is not { } structured
            || !structured.TryGetProperty("status", out var status) || status.GetString() != "succeeded")
            throw new CallFailedException($"payments_get_order through the gateway did not succeed: {DirectCaller.Clip(text)}");
        return structured.GetProperty("actionId").GetString();
    }

    public ValueTask DisposeAsync() => client.DisposeAsync();
}
