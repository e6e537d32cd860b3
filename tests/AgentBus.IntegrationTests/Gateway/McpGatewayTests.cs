using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgentBus.Contracts;
using AgentBus.IntegrationTests.Infrastructure;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace AgentBus.IntegrationTests.Gateway;

/// <summary>
/// The MCP gateway driven by the official C# MCP client (ModelContextProtocol 2.4.0) against the real
/// pipeline: every call is a proposal published as the signed-in agent, decided by the policy service,
/// run by the executor against the sandbox shop.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class McpGatewayTests(GatewayFixture fixture) : IAsyncLifetime
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    public async Task InitializeAsync()
    {
        await fixture.ResetAsync();
        await fixture.UsePolicyAsync(GatewayFixture.PolicyYaml);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Tools_list_is_exactly_the_agents_granted_operations_with_catalog_annotations()
    {
        using var timeout = new CancellationTokenSource(Patience);
        await using var client = await fixture.McpClientAsync("support-bot", cancellationToken: timeout.Token);

        var tools = await client.ListToolsAsync(cancellationToken: timeout.Token);

        Assert.Equal(["payments_get_order", "payments_refund", "ticketing_comment", "ticketing_create_ticket", "ticketing_get_ticket"],
            tools.Select(t => t.Name).Order(StringComparer.Ordinal));
        var getOrder = tools.Single(t => t.Name == "payments_get_order").ProtocolTool;
        Assert.Equal("payments.get_order", getOrder.Title);
        Assert.True(getOrder.Annotations!.ReadOnlyHint);
        Assert.False(getOrder.Annotations.DestructiveHint);
        Assert.Equal("object", getOrder.InputSchema.GetProperty("type").GetString());
        Assert.Contains("orderId", getOrder.InputSchema.GetProperty("required").EnumerateArray().Select(e => e.GetString()));
        var refund = tools.Single(t => t.Name == "payments_refund").ProtocolTool;
        Assert.True(refund.Annotations!.DestructiveHint);
        Assert.True(refund.Annotations.IdempotentHint);
        Assert.Contains("approval", refund.Description, StringComparison.OrdinalIgnoreCase);

        await using var intern = await fixture.McpClientAsync("intern-bot", cancellationToken: timeout.Token);
        Assert.Equal(["ticketing_comment"], (await intern.ListToolsAsync(cancellationToken: timeout.Token)).Select(t => t.Name));
    }

    [Fact]
    public async Task The_operations_endpoint_offers_the_same_operations_as_tools_list()
    {
        using var http = fixture.GatewayHttp("python-agent");
        var offer = await http.GetFromJsonAsync<OperationsOffer>("/v1/operations", AgentBus.Client.AgentClient.Json);

        Assert.Equal("python-agent", offer!.AgentId);
        Assert.Equal(["ticketing_comment", "ticketing_create_ticket"], offer.Operations.Select(o => o.Name).Order(StringComparer.Ordinal));
        Assert.NotNull(offer.PolicyVersion);
    }

    [Fact]
    public async Task An_allowed_read_only_call_returns_the_shops_answer_as_structured_content()
    {
        using var timeout = new CancellationTokenSource(Patience);
        await using var client = await fixture.McpClientAsync("support-bot", cancellationToken: timeout.Token);

        var result = await client.CallToolAsync("payments_get_order", new Dictionary<string, object?> { ["orderId"] = "ORD-1001" },
            cancellationToken: timeout.Token);

        Assert.NotEqual(true, result.IsError);
        var structured = result.StructuredContent!.Value;
        Assert.Equal("succeeded", structured.GetProperty("status").GetString());
        Assert.True(structured.GetProperty("result").TryGetProperty("orderId", out var orderId), structured.GetRawText());
        Assert.Equal("ORD-1001", orderId.GetString());
        Assert.Equal("ORD-1001", structured.GetProperty("externalReference").GetString());
        var call = Assert.Single(fixture.SandboxCalls.Calls);
        Assert.Equal("GET", call.Method);
        Assert.Equal(structured.GetProperty("actionId").GetString(), call.ActionId);
        Assert.StartsWith("mcp-", call.RunId);
    }

    [Fact]
    public async Task A_denied_call_is_a_tool_error_whose_text_gives_the_reason_code_and_rule()
    {
        using var timeout = new CancellationTokenSource(Patience);
        await using var client = await fixture.McpClientAsync("support-bot", cancellationToken: timeout.Token);

        var result = await client.CallToolAsync("payments_refund",
            new Dictionary<string, object?> { ["orderId"] = "ORD-1001", ["amountUsd"] = -5, ["reason"] = "negative" }, cancellationToken: timeout.Token);

        Assert.True(result.IsError);
        var structured = result.StructuredContent!.Value;
        Assert.Equal("denied", structured.GetProperty("status").GetString());
        Assert.Equal(ReasonCodes.InvalidArguments, structured.GetProperty("reasonCode").GetString());
        Assert.Contains(ReasonCodes.InvalidArguments, Text(result));
        Assert.Contains("amountUsd", Text(result));
        Assert.Empty(fixture.SandboxCalls.Calls);
    }

    [Fact]
    public async Task Approval_required_returns_at_once_and_the_same_call_with_its_key_returns_the_outcome_once_approved()
    {
        using var timeout = new CancellationTokenSource(Patience);
        await using var client = await fixture.McpClientAsync("support-bot", cancellationToken: timeout.Token);
        var arguments = new Dictionary<string, object?> { ["orderId"] = "ORD-1001", ["amountUsd"] = 150, ["reason"] = "damaged in transit" };
        var meta = new RequestOptions { Meta = new JsonObject { [OperationNames.IdempotencyKeyMeta] = "refund-ord-1001-once", [OperationNames.RunIdMeta] = "run-mcp-approval" } };

        var started = Stopwatch.StartNew();
        var pending = await client.CallToolAsync("payments_refund", arguments, options: meta, cancellationToken: timeout.Token);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(15), $"approval_required took {started.Elapsed}");

        Assert.NotEqual(true, pending.IsError);
        var facts = pending.StructuredContent!.Value;
        Assert.Equal("approval_required", facts.GetProperty("status").GetString());
        var approvalId = facts.GetProperty("approvalId").GetString()!;
        Assert.EndsWith($"/inbox/{approvalId}", facts.GetProperty("inbox").GetString());
        Assert.Contains(approvalId, Text(pending));
        Assert.Empty(fixture.SandboxCalls.Calls);

        var (_, token) = await fixture.Approvers.AddAsync("bob-" + Guid.NewGuid().ToString("N")[..6], ["finance"], timeout.Token);
        using (var approvals = fixture.ApprovalsHttp(token))
        {
            using var vote = await approvals.PostAsJsonAsync($"/api/approvals/{approvalId}/approve", new { comment = "fine" }, timeout.Token);
            Assert.Equal(HttpStatusCode.OK, vote.StatusCode);
        }

        var outcome = await client.CallToolAsync("payments_refund", arguments, options: meta, cancellationToken: timeout.Token);
        var story = string.Join("\n", (await fixture.QueryAsync<(string, string, string)>(
            "SELECT event_type, outcome, coalesce(reason_code, '') FROM audit_events WHERE action_id = @id ORDER BY seq", new { id = facts.GetProperty("actionId").GetString() }))
            .Select(r => $"{r.Item1} {r.Item2} {r.Item3}"));
        Assert.True(outcome.StructuredContent!.Value.GetProperty("status").GetString() == "succeeded", outcome.StructuredContent.Value.GetRawText() + "\n" + story);

        // Asked once more after it ran: the recorded outcome again, and the shop still saw one refund.
        var again = await client.CallToolAsync("payments_refund", arguments, options: meta, cancellationToken: timeout.Token);
        Assert.Equal("succeeded", again.StructuredContent!.Value.GetProperty("status").GetString());
        Assert.Single(fixture.SandboxCalls.Calls, c => c.Method == "POST" && c.Path.EndsWith("/refunds", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_suspended_agent_gets_a_tool_error_that_says_it_is_suspended()
    {
        using var timeout = new CancellationTokenSource(Patience);
        await using var client = await fixture.McpClientAsync("support-bot", cancellationToken: timeout.Token);
        Assert.Equal(0, await fixture.OperatorAsync("suspend", "support-bot", "oscar"));
        try
        {
            CallToolResult? result = null;
            await Eventually.True(async () =>
            {
                result = await client.CallToolAsync("payments_get_order", new Dictionary<string, object?> { ["orderId"] = "ORD-1001" }, cancellationToken: timeout.Token);
                return result.StructuredContent?.GetProperty("reasonCode").GetString() == ReasonCodes.AgentSuspended;
            }, "support-bot's calls denied as suspended", TimeSpan.FromSeconds(20));

            Assert.True(result!.IsError);
            Assert.Contains("suspended", Text(result));
        }
        finally
        {
            Assert.Equal(0, await fixture.OperatorAsync("resume", "support-bot", "oscar"));
        }
    }

    [Fact]
    public async Task An_unreachable_broker_is_503_not_a_wrong_password()
    {
        var closedPort = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        closedPort.Start();
        var port = ((IPEndPoint)closedPort.LocalEndpoint).Port;
        closedPort.Stop();
        var gateway = await fixture.StartOtherGatewayAsync(new() { ["Mcp:BrokerPort"] = port.ToString() });
        try
        {
            using var http = fixture.GatewayHttp("support-bot");
            http.BaseAddress = GatewayFixture.AddressOf(gateway);
            using var response = await http.GetAsync("/v1/operations");

            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Contains("cannot be reached", await response.Content.ReadAsStringAsync());
        }
        finally
        {
            await fixture.StopHostAsync(gateway);
        }
    }

    [Fact]
    public async Task A_call_with_no_answer_in_time_is_a_timeout_error_and_the_same_key_later_returns_the_outcome_once()
    {
        var gateway = await fixture.StartOtherGatewayAsync(new() { ["Mcp:CallTimeout"] = "00:00:02" });
        await fixture.StopHostAsync(fixture.ExecutorHosts["payments"]);
        var executorRunning = false;
        try
        {
            using var timeout = new CancellationTokenSource(Patience);
            var transport = new HttpClientTransport(new HttpClientTransportOptions
            {
                Endpoint = new Uri(GatewayFixture.AddressOf(gateway), "/mcp"),
                AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = "Basic " + GatewayFixture.BasicCredential("support-bot", fixture.PasswordOf("support-bot")) },
            });
            await using var client = await McpClient.CreateAsync(transport, cancellationToken: timeout.Token);
            var meta = new RequestOptions { Meta = new JsonObject { [OperationNames.IdempotencyKeyMeta] = "slow-lookup", [OperationNames.RunIdMeta] = "run-mcp-slow" } };
            var arguments = new Dictionary<string, object?> { ["orderId"] = "ORD-1001" };

            var slow = await client.CallToolAsync("payments_get_order", arguments, options: meta, cancellationToken: timeout.Token);
            Assert.True(slow.IsError);
            Assert.Equal("timeout", slow.StructuredContent!.Value.GetProperty("status").GetString());
            Assert.Contains("slow-lookup", Text(slow));

            await fixture.StartExecutorAsync("payments");
            executorRunning = true;
            await Eventually.True(() => Task.FromResult(fixture.SandboxCalls.Calls.Count == 1), "the queued command ran", TimeSpan.FromSeconds(20));
            var later = await client.CallToolAsync("payments_get_order", arguments, options: meta, cancellationToken: timeout.Token);
            Assert.Equal("succeeded", later.StructuredContent!.Value.GetProperty("status").GetString());
            Assert.Single(fixture.SandboxCalls.Calls);
        }
        finally
        {
            if (!executorRunning)
                await fixture.StartExecutorAsync("payments");
            await fixture.StopHostAsync(gateway);
        }
    }

    [Fact]
    public async Task A_wrong_password_is_401_and_no_session_opens()
    {
        using var http = fixture.GatewayHttp("support-bot", "not-the-password");
        using var operations = await http.GetAsync("/v1/operations");
        Assert.Equal(HttpStatusCode.Unauthorized, operations.StatusCode);
        Assert.Contains("Basic", operations.Headers.WwwAuthenticate.ToString());

        using var mcp = await http.PostAsync("/mcp", JsonContent.Create(new { jsonrpc = "2.0", id = 1, method = "tools/list" }));
        Assert.Equal(HttpStatusCode.Unauthorized, mcp.StatusCode);

        using var anonymous = new HttpClient { BaseAddress = fixture.GatewayUrl };
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/v1/operations")).StatusCode);
        using var unknown = fixture.GatewayHttp("nobody-bot", "whatever");
        Assert.Equal(HttpStatusCode.Unauthorized, (await unknown.GetAsync("/v1/operations")).StatusCode);

        await Assert.ThrowsAnyAsync<Exception>(async () => await fixture.McpClientAsync("support-bot", "not-the-password"));
    }

    [Fact]
    public async Task A_session_opened_by_one_agent_cannot_be_used_by_another()
    {
        using var support = fixture.GatewayHttp("support-bot");
        using var initialize = await Post(support, null, new
        {
            jsonrpc = "2.0", id = 1, method = "initialize",
            @params = new { protocolVersion = "2025-11-25", capabilities = new { }, clientInfo = new { name = "raw", version = "1" } },
        });
        Assert.Equal(HttpStatusCode.OK, initialize.StatusCode);
        var session = initialize.Headers.GetValues("Mcp-Session-Id").Single();

        using var intern = fixture.GatewayHttp("intern-bot");
        using var hijack = await Post(intern, session, new
        {
            jsonrpc = "2.0", id = 2, method = "tools/call",
            @params = new { name = "payments_get_order", arguments = new { orderId = "ORD-1001" } },
        });

        Assert.False(hijack.IsSuccessStatusCode, $"{hijack.StatusCode}: {await hijack.Content.ReadAsStringAsync()}");
        Assert.Empty(fixture.SandboxCalls.Calls);
        // The same request from the agent that opened the session is served: the refusal is about who asks.
        using var owner = await Post(support, session, new { jsonrpc = "2.0", id = 3, method = "tools/list" });
        Assert.Equal(HttpStatusCode.OK, owner.StatusCode);
    }

    static Task<HttpResponseMessage> Post(HttpClient http, string? session, object message)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/mcp") { Content = JsonContent.Create(message) };
        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (session is not null)
        {
            request.Headers.Add("Mcp-Session-Id", session);
            request.Headers.Add("MCP-Protocol-Version", "2025-11-25");
        }
        return http.SendAsync(request);
    }

    [Fact]
    public async Task A_password_rotated_away_stops_working_at_the_gateway_within_the_recheck_time()
    {
        const string agent = "rotating-bot";
        var original = fixture.PasswordOf(agent);
        using (var before = fixture.GatewayHttp(agent))
            Assert.Equal(HttpStatusCode.OK, (await before.GetAsync("/v1/operations")).StatusCode);

        var rotated = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        await fixture.Management.PutUserAsync(agent, rotated, "", CancellationToken.None);
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(1.5));
            using var old = fixture.GatewayHttp(agent, original);
            Assert.Equal(HttpStatusCode.Unauthorized, (await old.GetAsync("/v1/operations")).StatusCode);
            using var current = fixture.GatewayHttp(agent, rotated);
            Assert.Equal(HttpStatusCode.OK, (await current.GetAsync("/v1/operations")).StatusCode);
        }
        finally
        {
            await fixture.Management.PutUserAsync(agent, original, "", CancellationToken.None);
        }
    }

    [Fact]
    public async Task An_agent_calling_an_operation_granted_only_to_another_is_denied_no_grant_and_the_shop_sees_nothing()
    {
        using var timeout = new CancellationTokenSource(Patience);
        await using var intern = await fixture.McpClientAsync("intern-bot", cancellationToken: timeout.Token);

        var result = await intern.CallToolAsync("payments_refund",
            new Dictionary<string, object?> { ["orderId"] = "ORD-1001", ["amountUsd"] = 10, ["reason"] = "not mine to give" }, cancellationToken: timeout.Token);

        Assert.True(result.IsError);
        Assert.Equal(ReasonCodes.NoGrant, result.StructuredContent!.Value.GetProperty("reasonCode").GetString());
        Assert.Empty(fixture.SandboxCalls.Calls);
        // Recorded as intern-bot's own attempt: the proposal went out on intern-bot's broker login.
        await Eventually.True(async () => await fixture.CountAsync(
                "SELECT count(*) FROM audit_events WHERE agent_id = 'intern-bot' AND reason_code = 'no_grant'") >= 1,
            "intern-bot's denied attempt in the audit", TimeSpan.FromSeconds(20));

        await Assert.ThrowsAsync<McpProtocolException>(async () =>
            await intern.CallToolAsync("payments_nonexistent", new Dictionary<string, object?>(), cancellationToken: timeout.Token));
    }

    [Fact]
    public async Task A_policy_reload_that_changes_an_agents_operations_sends_list_changed_and_the_new_list()
    {
        using var timeout = new CancellationTokenSource(Patience);
        await using var intern = await fixture.McpClientAsync("intern-bot", cancellationToken: timeout.Token);
        Assert.Equal(["ticketing_comment"], (await intern.ListToolsAsync(cancellationToken: timeout.Token)).Select(t => t.Name));
        var changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var registration = intern.RegisterNotificationHandler(NotificationMethods.ToolListChangedNotification, (_, _) =>
        {
            changed.TrySetResult();
            return ValueTask.CompletedTask;
        });

        await fixture.UsePolicyAsync(GatewayFixture.PolicyYaml.Replace("operations: [comment]", "operations: [comment, get_ticket]", StringComparison.Ordinal));

        await changed.Task.WaitAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(["ticketing_comment", "ticketing_get_ticket"],
            (await intern.ListToolsAsync(cancellationToken: timeout.Token)).Select(t => t.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task The_MCP_requests_trace_continues_into_the_proposal()
    {
        var proposals = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == AgentBus.Client.AgentClient.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = proposals.Add,
        };
        ActivitySource.AddActivityListener(listener);
        using var timeout = new CancellationTokenSource(Patience);
        await using var client = await fixture.McpClientAsync("support-bot", cancellationToken: timeout.Token);

        using var caller = new Activity("agent-turn").SetIdFormat(ActivityIdFormat.W3C).Start();
        var result = await client.CallToolAsync("payments_get_order", new Dictionary<string, object?> { ["orderId"] = "ORD-1001" }, cancellationToken: timeout.Token);
        caller.Stop();

        var actionId = result.StructuredContent!.Value.GetProperty("actionId").GetString();
        var propose = Assert.Single(proposals, a => (string?)a.GetTagItem("agentbus.action_id") == actionId);
        Assert.Equal(caller.TraceId, propose.TraceId);
    }

    static string Text(CallToolResult result) => string.Concat(result.Content.OfType<TextContentBlock>().Select(t => t.Text));
}
