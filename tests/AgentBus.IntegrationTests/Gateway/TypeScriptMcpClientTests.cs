using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.IntegrationTests.Infrastructure;
using Xunit.Abstractions;
using static AgentBus.IntegrationTests.Gateway.TypeScriptMcpClient;

namespace AgentBus.IntegrationTests.Gateway;

/// <summary>
/// The gateway driven by a client nobody here wrote: the official TypeScript MCP SDK (Client and
/// StreamableHTTPClientTransport, Basic credential in requestInit headers) in a Node process, against
/// the real pipeline. The same scenarios as <see cref="McpGatewayTests"/>, seen through that SDK.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class TypeScriptMcpClientTests(GatewayFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    public async Task InitializeAsync()
    {
        await fixture.ResetAsync();
        await fixture.UsePolicyAsync(GatewayFixture.PolicyYaml);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    Task<Run> RunAsync(string agentId, params object[] steps) => RunAsPasswordAsync(agentId, fixture.PasswordOf(agentId), steps);

    async Task<Run> RunAsPasswordAsync(string agentId, string password, params object[] steps)
    {
        var run = await TypeScriptMcpClient.RunAsync(fixture, agentId, password, steps);
        output.WriteLine(run.Describe());
        Assert.True(run.ExitCode == 0, run.Describe());
        return run;
    }

    [TypeScriptMcpFact]
    public async Task Tools_list_is_exactly_the_agents_granted_operations_with_catalog_annotations()
    {
        var run = await RunAsync("support-bot", ListTools());

        var connect = run.Connect;
        Assert.False(connect.TryGetProperty("error", out _), run.Describe());
        Assert.Equal("agentbus", connect.GetProperty("server").GetProperty("name").GetString());
        Assert.True(connect.GetProperty("capabilities").GetProperty("tools").GetProperty("listChanged").GetBoolean());
        Assert.False(string.IsNullOrEmpty(connect.GetProperty("protocolVersion").GetString()), run.Describe());
        Assert.False(string.IsNullOrEmpty(connect.GetProperty("sessionId").GetString()), "the gateway runs stateful sessions: " + run.Describe());
        // The SDK ends its session with DELETE /mcp, which the gateway accepts.
        Assert.True(run.Lines[^1].GetProperty("op").GetString() == "close" && run.Lines[^1].GetProperty("sessionTerminated").GetBoolean(), run.Describe());

        var tools = run.Step(0).GetProperty("tools").EnumerateArray().ToList();
        Assert.Equal(["payments_get_order", "payments_refund", "ticketing_comment", "ticketing_create_ticket", "ticketing_get_ticket"],
            tools.Select(t => t.GetProperty("name").GetString()).Order(StringComparer.Ordinal));
        var getOrder = tools.Single(t => t.GetProperty("name").GetString() == "payments_get_order");
        Assert.Equal("payments.get_order", getOrder.GetProperty("title").GetString());
        Assert.True(getOrder.GetProperty("annotations").GetProperty("readOnlyHint").GetBoolean());
        Assert.False(getOrder.GetProperty("annotations").GetProperty("destructiveHint").GetBoolean());
        Assert.Equal("object", getOrder.GetProperty("inputSchema").GetProperty("type").GetString());
        Assert.Contains("orderId", getOrder.GetProperty("inputSchema").GetProperty("required").EnumerateArray().Select(e => e.GetString()));
        var refund = tools.Single(t => t.GetProperty("name").GetString() == "payments_refund");
        Assert.True(refund.GetProperty("annotations").GetProperty("destructiveHint").GetBoolean());
        Assert.True(refund.GetProperty("annotations").GetProperty("idempotentHint").GetBoolean());
        Assert.Contains("approval", refund.GetProperty("description").GetString(), StringComparison.OrdinalIgnoreCase);

        var intern = await RunAsync("intern-bot", ListTools());
        Assert.Equal(["ticketing_comment"], intern.Step(0).GetProperty("tools").EnumerateArray().Select(t => t.GetProperty("name").GetString()));
    }

    [TypeScriptMcpFact]
    public async Task An_allowed_read_only_call_returns_the_shops_answer_as_structured_content()
    {
        var run = await RunAsync("support-bot", CallTool("payments_get_order", new { orderId = "ORD-1001" }));

        var result = run.Step(0);
        Assert.False(result.GetProperty("isError").GetBoolean(), run.Describe());
        var structured = result.GetProperty("structuredContent");
        Assert.Equal("succeeded", structured.GetProperty("status").GetString());
        Assert.Equal("ORD-1001", structured.GetProperty("result").GetProperty("orderId").GetString());
        Assert.Contains("ORD-1001", result.GetProperty("text").GetString());
        var call = Assert.Single(fixture.SandboxCalls.Calls);
        Assert.Equal("GET", call.Method);
        Assert.Equal(structured.GetProperty("actionId").GetString(), call.ActionId);
    }

    [TypeScriptMcpFact]
    public async Task A_denied_call_is_a_tool_error_whose_text_gives_the_reason_code()
    {
        var run = await RunAsync("support-bot", CallTool("payments_refund", new { orderId = "ORD-1001", amountUsd = -5, reason = "negative" }));

        var result = run.Step(0);
        Assert.True(result.GetProperty("isError").GetBoolean(), run.Describe());
        var structured = result.GetProperty("structuredContent");
        Assert.Equal("denied", structured.GetProperty("status").GetString());
        Assert.Equal(ReasonCodes.InvalidArguments, structured.GetProperty("reasonCode").GetString());
        Assert.Contains(ReasonCodes.InvalidArguments, result.GetProperty("text").GetString());
        Assert.Contains("amountUsd", result.GetProperty("text").GetString());
        Assert.Empty(fixture.SandboxCalls.Calls);
    }

    [TypeScriptMcpFact]
    public async Task Approval_required_returns_at_once_and_the_same_call_with_its_key_from_a_new_session_returns_the_outcome()
    {
        var arguments = new { orderId = "ORD-1001", amountUsd = 150, reason = "damaged in transit" };
        var meta = new Dictionary<string, string>
        {
            [OperationNames.IdempotencyKeyMeta] = "ts-refund-ord-1001-once",
            [OperationNames.RunIdMeta] = "run-ts-approval",
            [OperationNames.IntentMeta] = "refund a parcel damaged in transit",
        };

        var first = await RunAsync("support-bot", CallTool("payments_refund", arguments, meta));
        var pending = first.Step(0);
        Assert.False(pending.GetProperty("isError").GetBoolean(), first.Describe());
        var facts = pending.GetProperty("structuredContent");
        Assert.Equal("approval_required", facts.GetProperty("status").GetString());
        var approvalId = facts.GetProperty("approvalId").GetString()!;
        Assert.EndsWith($"/inbox/{approvalId}", facts.GetProperty("inbox").GetString());
        Assert.Contains(approvalId, pending.GetProperty("text").GetString());
        Assert.Empty(fixture.SandboxCalls.Calls);

        var (_, token) = await fixture.Approvers.AddAsync("bob-" + Guid.NewGuid().ToString("N")[..6], ["finance"], CancellationToken.None);
        using (var approvals = fixture.ApprovalsHttp(token))
        {
            using var vote = await approvals.PostAsJsonAsync($"/api/approvals/{approvalId}/approve", new { comment = "fine" });
            Assert.Equal(HttpStatusCode.OK, vote.StatusCode);
        }

        // Another process, so another MCP session: the idempotency key, not the session, names the action.
        var second = await RunAsync("support-bot", CallTool("payments_refund", arguments, meta));
        var outcome = second.Step(0).GetProperty("structuredContent");
        Assert.True(outcome.GetProperty("status").GetString() == "succeeded", second.Describe());
        Assert.Equal(facts.GetProperty("actionId").GetString(), outcome.GetProperty("actionId").GetString());
        Assert.Single(fixture.SandboxCalls.Calls, c => c.Method == "POST" && c.Path.EndsWith("/refunds", StringComparison.Ordinal));
    }

    [TypeScriptMcpFact]
    public async Task A_suspended_agent_gets_a_tool_error_that_says_it_is_suspended()
    {
        Assert.Equal(0, await fixture.OperatorAsync("suspend", "support-bot", "oscar"));
        try
        {
            var result = await Eventually.Get(
                async () => (await RunAsync("support-bot", CallTool("payments_get_order", new { orderId = "ORD-1001" }))).Step(0),
                line => line.TryGetProperty("structuredContent", out var s) && s.ValueKind == JsonValueKind.Object
                        && s.TryGetProperty("reasonCode", out var code) && code.GetString() == ReasonCodes.AgentSuspended,
                "support-bot's calls denied as suspended", TimeSpan.FromSeconds(30));

            Assert.True(result.GetProperty("isError").GetBoolean());
            Assert.Contains("suspended", result.GetProperty("text").GetString());
        }
        finally
        {
            Assert.Equal(0, await fixture.OperatorAsync("resume", "support-bot", "oscar"));
        }
    }

    [TypeScriptMcpFact]
    public async Task A_wrong_password_fails_initialize_with_401()
    {
        var run = await RunAsPasswordAsync("support-bot", "not-the-password", ListTools());

        var error = run.Connect.GetProperty("error");
        Assert.Equal(401, error.GetProperty("httpStatus").GetInt32());
        Assert.DoesNotContain(run.Lines, l => l.TryGetProperty("step", out _));
    }

    [TypeScriptMcpFact]
    public async Task An_agent_calling_an_operation_granted_only_to_another_is_denied_no_grant()
    {
        var run = await RunAsync("intern-bot",
            CallTool("payments_refund", new { orderId = "ORD-1001", amountUsd = 10, reason = "not mine to give" }),
            CallTool("payments_nonexistent", new { }));

        var denied = run.Step(0);
        Assert.True(denied.GetProperty("isError").GetBoolean(), run.Describe());
        Assert.Equal(ReasonCodes.NoGrant, denied.GetProperty("structuredContent").GetProperty("reasonCode").GetString());
        Assert.Empty(fixture.SandboxCalls.Calls);

        // A name that is no operation at all is a JSON-RPC error (InvalidParams), which the SDK throws as McpError.
        var unknown = run.Step(1).GetProperty("error");
        Assert.Equal("McpError", unknown.GetProperty("name").GetString());
        Assert.Equal(-32602, unknown.GetProperty("code").GetInt32());
    }
}
