using System.Text.Json;
using AgentBus.Catalog.Http;
using AgentBus.Client;
using AgentBus.Contracts;

namespace AgentBus.IntegrationTests.Operations;

/// <summary>
/// Named operations end to end on real RabbitMQ and PostgreSQL: the agent sends business arguments
/// only, the policy decides per operation, and the executor builds the request from the catalog
/// against the sandbox's stateful shop API.
/// </summary>
[Collection(OperationsCollection.Name)]
public sealed class OperationPipelineTests(OperationsFixture fixture) : IAsyncLifetime
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public Task InitializeAsync() => fixture.ResetWithShopAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_refund_posts_a_json_body_built_from_the_arguments_the_path_does_not_use_and_changes_the_order()
    {
        await using var agent = await fixture.ConnectAgentAsync("support-bot");

        var result = await agent.RunAsync("payments.refund", new { orderId = "ORD-1001", amountUsd = 25.00m, reason = "Item arrived damaged." },
            "run-op-refund", Timeout);

        Assert.Equal(Decision.Allowed, result.Decision.Decision);
        Assert.NotNull(result.Succeeded);
        Assert.StartsWith("RF-", result.Succeeded!.ExternalReference);
        Assert.Equal(0.01m, result.Succeeded.CostUsd);
        var call = Assert.Single(fixture.SandboxCalls.Calls, c => c.Method == "POST");
        Assert.Equal("/api/orders/ORD-1001/refunds", call.Path);
        Assert.Equal(result.Decision.ActionId, call.ActionId);
        var body = call.Body!.Value;
        Assert.Equal(25.00m, body.GetProperty("amountUsd").GetDecimal());
        Assert.False(body.TryGetProperty("orderId", out _), "orderId goes into the path, not the body");

        var lookup = await agent.RunAsync("payments.get_order", new { orderId = "ORD-1001" }, "run-op-refund", Timeout);
        Assert.Equal(25.00m, lookup.Succeeded!.Result.GetProperty("body").GetProperty("refundedUsd").GetDecimal());
    }

    [Fact]
    public async Task A_read_only_lookup_runs_under_its_own_grant_and_returns_the_order()
    {
        await using var agent = await fixture.ConnectAgentAsync("support-bot");

        var result = await agent.RunAsync("payments.get_order", new { orderId = "ORD-1003" }, "run-op-read", Timeout);

        Assert.Equal("support-bot-shop", (await fixture.RecordedDecisionAsync(result.ActionId)).RuleId);
        Assert.Equal("ORD-1003", result.Succeeded!.ExternalReference);
        Assert.Equal(1200.00m, result.Succeeded.Result.GetProperty("body").GetProperty("paidUsd").GetDecimal());
        Assert.Equal("GET", Assert.Single(fixture.SandboxCalls.Calls).Method);
    }

    [Fact]
    public async Task A_comment_goes_form_encoded_to_the_ticket_the_path_names()
    {
        await using var support = await fixture.ConnectAgentAsync("support-bot");
        await using var intern = await fixture.ConnectAgentAsync("intern-bot");
        var ticket = await support.RunAsync("ticketing.create_ticket", new { title = "Login fails", priority = "high" }, "run-op-form", Timeout);
        var ticketId = ticket.Succeeded!.ExternalReference!;

        var comment = await intern.RunAsync("ticketing.comment", new { ticketId, body = "Asked for a screenshot.\r\nThanks!", visibility = "internal" },
            "run-op-form", Timeout);

        Assert.NotNull(comment.Succeeded);
        Assert.StartsWith("CMT-", comment.Succeeded!.ExternalReference);
        var call = fixture.SandboxCalls.Calls.Last();
        Assert.Equal($"/api/tickets/{ticketId}/comments", call.Path);
        Assert.Equal("Asked for a screenshot.\r\nThanks!", call.Body!.Value.GetProperty("body").GetString());
        Assert.Equal("internal", call.Body.Value.GetProperty("visibility").GetString());
    }

    [Fact]
    public async Task An_operation_outside_the_grant_is_denied_per_operation_and_nothing_is_sent()
    {
        await using var intern = await fixture.ConnectAgentAsync("intern-bot");

        var open = await intern.RunAsync("ticketing.create_ticket", new { title = "x", priority = "low" }, "run-op-deny", Timeout);
        var missing = await intern.RunAsync("ticketing", new { title = "x", priority = "low" }, "run-op-deny", Timeout);
        var urlShaped = await intern.RunAsync("ticketing.comment",
            new { ticketId = "TCK-000001", body = "x", url = "https://paste.example.com/upload" }, "run-op-deny", Timeout);

        Assert.Equal(ReasonCodes.NoGrant, open.Decision.ReasonCode);
        Assert.Equal(ReasonCodes.UnknownOperation, missing.Decision.ReasonCode);
        Assert.Equal(ReasonCodes.InvalidArguments, urlShaped.Decision.ReasonCode);
        Assert.Empty(fixture.SandboxCalls.Calls);
    }

    [Fact]
    public async Task An_operations_own_rate_limit_stops_that_operation_and_not_the_others_of_its_tool()
    {
        await using var agent = await fixture.ConnectAgentAsync("support-bot");

        var lookups = new List<ActionResult>();
        for (var i = 0; i < 4; i++)
            lookups.Add(await agent.RunAsync("payments.get_order", new { orderId = $"ORD-100{i + 1}" }, "run-op-rate", Timeout));
        var refund = await agent.RunAsync("payments.refund", new { orderId = "ORD-1002", amountUsd = 5.00m, reason = "Late delivery." }, "run-op-rate", Timeout);

        Assert.All(lookups.Take(3), r => Assert.NotNull(r.Succeeded));
        Assert.Equal(ReasonCodes.RateLimited, lookups[3].Decision.ReasonCode);
        Assert.Equal("limits.operations.payments.get_order.callsPerMinute", lookups[3].Decision.RuleId);
        Assert.NotNull(refund.Succeeded);
    }

    [Fact]
    public async Task An_action_id_sent_again_for_another_operation_with_the_same_arguments_is_refused_as_reused()
    {
        await using var agent = await fixture.ConnectAgentAsync("support-bot");
        var ticket = await agent.RunAsync("ticketing.create_ticket", new { title = "Printer on fire", priority = "urgent" }, "run-op-reuse", Timeout);
        var ticketId = ticket.Succeeded!.ExternalReference!;
        var read = await agent.RunAsync("ticketing.get_ticket", new { ticketId }, "run-op-reuse", Timeout);

        await agent.ProposeAsync("ticketing.close_ticket", new { ticketId }, "run-op-reuse", actionId: read.Decision.ActionId);

        using var deadline = new CancellationTokenSource(Timeout);
        Assert.Equal(ReasonCodes.ActionIdReused, (await agent.DecisionAsync(read.Decision.ActionId!, deadline.Token)).ReasonCode);
        await Task.Delay(500);
        Assert.DoesNotContain(fixture.SandboxCalls.Calls, c => c.Path.EndsWith("/close", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("..")]
    [InlineData(".")]
    [InlineData("\uFF0E\uFF0E")]
    [InlineData("a\uFF0Fb")]
    [InlineData("")]
    [InlineData("../../calls")]
    [InlineData("http://evil.example/")]
    [InlineData("..\\calls")]
    public async Task A_path_argument_that_would_move_the_request_is_refused_by_the_executor_before_anything_is_sent(string orderId)
    {
        await using var agent = await fixture.ConnectAgentAsync("support-bot");

        var result = await agent.RunAsync("payments.lookup", new { orderId }, "run-op-escape", Timeout);

        Assert.Equal(Decision.Allowed, result.Decision.Decision);
        Assert.NotNull(result.Failed);
        Assert.Equal(OperationUrlTemplate.ReasonCodes.ArgumentEscapesTemplate, result.Failed!.ErrorCode);
        Assert.False(result.Failed.OutcomeUnknown);
        Assert.Empty(fixture.SandboxCalls.Calls);
    }

    [Theory]
    [InlineData("ORD-1001?admin=true")]
    [InlineData("ORD-1001#x")]
    [InlineData("%2F..%2Fcalls")]
    [InlineData("ORD-1001\r\nX-Injected: 1")]
    [InlineData("ORD-1001&admin=true")]
    public async Task A_path_argument_with_reserved_characters_is_encoded_into_its_one_segment(string orderId)
    {
        await using var agent = await fixture.ConnectAgentAsync("support-bot");

        var result = await agent.RunAsync("payments.lookup", new { orderId }, "run-op-encode", Timeout);

        // The shop has no such order: the request reached /api/orders/<one segment> and nothing else.
        Assert.StartsWith("http_4", result.Failed?.ErrorCode);
        var call = Assert.Single(fixture.SandboxCalls.Calls);
        Assert.StartsWith("/api/orders/", call.Path);
        Assert.Equal(3, call.Path.Trim('/').Split('/').Length);
    }
}
