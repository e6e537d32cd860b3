using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using AgentBus.Contracts;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace AgentBus.IntegrationTests.Gateway;

/// <summary>Bad input to the gateway gets a clear answer, runs nothing, and the gateway keeps serving.</summary>
[Collection(GatewayCollection.Name)]
public sealed class GatewayHostileInputTests(GatewayFixture fixture) : IAsyncLifetime
{
    public async Task InitializeAsync()
    {
        await fixture.ResetAsync();
        await fixture.UsePolicyAsync(GatewayFixture.PolicyYaml);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Malformed_and_oversized_requests_are_refused_and_the_gateway_keeps_serving()
    {
        using var http = fixture.GatewayHttp("support-bot");

        using var malformed = await Send(http, "{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": ");
        Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);

        using var huge = await Send(http, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"x\":\"" + new string('a', 2 * 1024 * 1024) + "\"}}");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, huge.StatusCode);

        using var notJsonRpc = await Send(http, "[1, 2, 3]");
        Assert.False(notJsonRpc.IsSuccessStatusCode);

        using var overlongAuth = new HttpClient { BaseAddress = fixture.GatewayUrl };
        overlongAuth.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", "Basic " + new string('A', 20_000));
        Assert.Equal(HttpStatusCode.Unauthorized, (await overlongAuth.GetAsync("/v1/operations")).StatusCode);

        using var after = await http.GetAsync("/v1/operations");
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task A_request_from_a_web_origin_is_refused_before_sign_in_against_dns_rebinding()
    {
        using var http = fixture.GatewayHttp("support-bot");
        var request = new HttpRequestMessage(HttpMethod.Get, "/v1/operations");
        request.Headers.Add("Origin", "http://attacker.example");

        using var refused = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("attacker.example", await refused.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/v1/operations")).StatusCode);
    }

    [Fact]
    public async Task Hostile_tool_calls_get_tool_errors_or_protocol_errors_and_run_nothing()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var client = await fixture.McpClientAsync("support-bot", cancellationToken: timeout.Token);

        // Arguments the schema refuses: the policy denies, before any side effect.
        var injected = await client.CallToolAsync("payments_get_order",
            new Dictionary<string, object?> { ["orderId"] = "../../admin", ["extra"] = "\u0000\u202e" }, cancellationToken: timeout.Token);
        Assert.True(injected.IsError);
        Assert.Equal(ReasonCodes.InvalidArguments, injected.StructuredContent!.Value.GetProperty("reasonCode").GetString());

        // _meta of the wrong type, and arguments beyond the gateway's limit: refused before anything is proposed.
        var badMeta = await client.CallToolAsync("payments_get_order", new Dictionary<string, object?> { ["orderId"] = "ORD-1001" },
            options: new RequestOptions { Meta = new JsonObject { [OperationNames.IdempotencyKeyMeta] = new JsonArray(1, 2) } }, cancellationToken: timeout.Token);
        Assert.True(badMeta.IsError);
        Assert.Equal("invalid_meta", badMeta.StructuredContent!.Value.GetProperty("code").GetString());
        var oversized = await client.CallToolAsync("ticketing_comment",
            new Dictionary<string, object?> { ["ticketId"] = "TCK-1", ["body"] = new string('x', 200_000) }, cancellationToken: timeout.Token);
        Assert.True(oversized.IsError);
        Assert.Equal(ReasonCodes.PayloadTooLarge, oversized.StructuredContent!.Value.GetProperty("code").GetString());

        // A name that is no operation, long and with markup: a protocol error naming it, cut short.
        var unknown = await Assert.ThrowsAsync<McpProtocolException>(async () =>
            await client.CallToolAsync("<script>" + new string('x', 3000), new Dictionary<string, object?>(), cancellationToken: timeout.Token));
        Assert.True(unknown.Message.Length < 1000, unknown.Message);

        Assert.Empty(fixture.SandboxCalls.Calls);
        var ok = await client.CallToolAsync("payments_get_order", new Dictionary<string, object?> { ["orderId"] = "ORD-1001" }, cancellationToken: timeout.Token);
        Assert.NotEqual(true, ok.IsError);
    }

    static Task<HttpResponseMessage> Send(HttpClient http, string body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/mcp") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.Accept.ParseAdd("text/event-stream");
        return http.SendAsync(request);
    }
}
