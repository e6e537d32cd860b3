using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using AgentBus.Contracts;
using AgentBus.IntegrationTests.Audit;
using AgentBus.IntegrationTests.Infrastructure;
using AgentBus.Policy.Rollback;
using AgentBus.SandboxApi;
using AgentBus.Testbed;

namespace AgentBus.IntegrationTests.Rollback;

/// <summary>
/// `agentbus runs rollback` on the real pipeline: compensations go through the policy as the rollback
/// identity, change the sandbox's own state back, and never run twice, whatever interrupts them.
/// </summary>
[Collection(RollbackCollection.Name)]
public sealed class RollbackTests(RollbackFixture fixture) : IAsyncLifetime
{
    public Task InitializeAsync() => fixture.ResetForTestAsync();

    public Task DisposeAsync()
    {
        fixture.RestoreLatency();
        return Task.CompletedTask;
    }

    static string NewRun() => "run-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>
    /// The shop calls this run's rollback made: a compensation an earlier test left in flight can still
    /// reach the shop after the reset, under its own rollback run.
    /// </summary>
    IReadOnlyList<RecordedCall> Calls(string run, string suffix) =>
        fixture.SandboxCalls.Calls.Where(c => c.Method == "POST" && c.RunId == RollbackRuns.For(run) && c.Path.EndsWith(suffix, StringComparison.Ordinal)).ToList();

    [Fact]
    public async Task A_run_of_refunds_and_tickets_rolled_back_leaves_the_shop_as_before_and_the_story_tells_it()
    {
        var run = NewRun();
        var opened = (await fixture.ActAsync(run, ("ticketing.create_ticket", new { title = "Customer cannot log in", priority = "high" })))[0];
        var ticketId = opened.Succeeded!.ExternalReference!;
        var results = await fixture.ActAsync(run,
            ("payments.refund", new { orderId = "ORD-1001", amountUsd = 25.00, reason = "Item arrived damaged." }),
            ("payments.get_order", new { orderId = "ORD-1001" }),
            ("ticketing.comment", new { ticketId, body = "Refunded 25 USD.", visibility = "internal" }),
            ("payments.refund", new { orderId = "ORD-1002", amountUsd = 10.00, reason = "Late delivery." }));
        Assert.All(results, r => Assert.NotNull(r.Succeeded));
        Assert.Equal(25.00m, fixture.RefundedUsd("ORD-1001"));
        Assert.Equal(10.00m, fixture.RefundedUsd("ORD-1002"));

        var (planned, plan) = await fixture.RollbackAsync(run, "--dry-run");
        Assert.True(planned == 0, plan);
        Assert.Contains("payments.cancel_refund", plan);
        Assert.Contains("ticketing.close_ticket", plan);
        Assert.Contains("irreversible", plan);
        Assert.DoesNotContain("payments.get_order", plan);
        Assert.Empty(Calls(run, "/cancel"));

        var (exit, output) = await fixture.RollbackAsync(run, "--reason", "refunded the wrong orders");
        Assert.True(exit == 0, output);

        Assert.Equal(0.00m, fixture.RefundedUsd("ORD-1001"));
        Assert.Equal(0.00m, fixture.RefundedUsd("ORD-1002"));
        Assert.Equal("closed", fixture.TicketStatus(ticketId));
        Assert.Equal(2, Calls(run, "/cancel").Count);
        Assert.Single(Calls(run, "/close"));
        // Newest first: the second refund is undone before the first, the ticket last.
        var undone = fixture.SandboxCalls.Calls.Where(c => c.Path.EndsWith("/cancel") || c.Path.EndsWith("/close")).OrderBy(c => c.Sequence).ToList();
        Assert.EndsWith("/close", undone[^1].Path);

        var (again, second) = await fixture.RollbackAsync(run);
        Assert.True(again == 0, second);
        Assert.Contains("Nothing to propose", second);
        Assert.Equal(2, Calls(run, "/cancel").Count);

        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE run_id = @run AND event_type = 'ActionSucceeded'", new { run = RollbackRuns.For(run) }) == 3,
            "the three compensations in the audit");
        var (shown, story) = await AuditFixture.CliAsync("runs", "show", run, "--postgres", fixture.ConnectionString);
        Assert.True(shown == 0, story);
        Assert.Contains("undo", story);
        Assert.Contains($"Rollback (run {RollbackRuns.For(run)}", story);
        Assert.Contains("3 succeeded", story);
        Assert.Contains("requested by olga", story);
        Assert.Contains("refunded the wrong orders", story);
    }

    [Fact]
    public async Task A_compensation_that_moves_money_waits_for_its_approval_and_runs_once_approved()
    {
        var run = NewRun();
        var refund = (await fixture.ActAsync(run, ("payments.refund", new { orderId = "ORD-1003", amountUsd = 30.00, reason = "Never arrived." })))[0];
        Assert.NotNull(refund.Succeeded);

        var (waiting, output) = await fixture.RollbackAsync(run, "--as", "careful-undo-bot", "--wait", "2s");
        Assert.True(waiting == 4, output);
        Assert.Contains("waiting for approval", output);
        Assert.Empty(Calls(run, "/cancel"));
        Assert.Equal(30.00m, fixture.RefundedUsd("ORD-1003"));

        var approvalId = MessageIds.Approval("careful-undo-bot", Compensations.ActionId(refund.ActionId, 1)).ToString("D");
        Assert.Contains(approvalId, output);
        var (_, token) = await fixture.Approvers.AddAsync("fay-" + Guid.NewGuid().ToString("N")[..6], ["finance"], CancellationToken.None);
        using (var approvals = fixture.ApprovalsHttp(token))
        {
            using var vote = await approvals.PostAsJsonAsync($"/api/approvals/{approvalId}/approve", new { comment = "yes, claw it back" });
            Assert.Equal(HttpStatusCode.OK, vote.StatusCode);
        }

        var (done, finished) = await fixture.RollbackAsync(run, "--as", "careful-undo-bot");
        Assert.True(done == 0, finished);
        Assert.Equal(0.00m, fixture.RefundedUsd("ORD-1003"));
        Assert.Single(Calls(run, "/cancel"));
    }

    [Fact]
    public async Task Two_rollbacks_of_the_same_run_at_once_undo_each_action_once()
    {
        var run = NewRun();
        var results = await fixture.ActAsync(run,
            ("ticketing.create_ticket", new { title = "Duplicate charge", priority = "normal" }),
            ("payments.refund", new { orderId = "ORD-1001", amountUsd = 20.00, reason = "Duplicate charge." }),
            ("payments.refund", new { orderId = "ORD-1002", amountUsd = 15.00, reason = "Duplicate charge." }));
        Assert.All(results, r => Assert.NotNull(r.Succeeded));

        var both = await Task.WhenAll(Task.Run(() => fixture.RollbackAsync(run)), Task.Run(() => fixture.RollbackAsync(run)));

        Assert.All(both, r => Assert.True(r.Exit == 0, r.Output));
        Assert.Equal(2, Calls(run, "/cancel").Count);
        Assert.Single(Calls(run, "/close"));
        Assert.Equal(0.00m, fixture.RefundedUsd("ORD-1001"));
        Assert.Equal(0.00m, fixture.RefundedUsd("ORD-1002"));
    }

    [Fact]
    public async Task A_rollback_killed_with_sigkill_resumes_where_it_stopped_without_undoing_anything_twice()
    {
        var run = NewRun();
        var results = await fixture.ActAsync(run,
            ("payments.refund", new { orderId = "ORD-1001", amountUsd = 12.00, reason = "Wrong size." }),
            ("payments.refund", new { orderId = "ORD-1002", amountUsd = 8.00, reason = "Wrong colour." }));
        Assert.All(results, r => Assert.NotNull(r.Succeeded));

        // The first compensation takes seconds at the shop: the command is killed while it runs.
        fixture.SandboxSettings.LatencyMs = 4000;
        var start = ChildProcess.StartInfo("dotnet", [ServiceProcess.Dll("AgentBus.Cli", "agentbus"), .. fixture.RollbackArguments(run), "--as", "undo-bot"]);
        using (var cli = Process.Start(start)!)
        {
            var seen = new List<string>();
            while (await cli.StandardOutput.ReadLineAsync() is { } line)
            {
                seen.Add(line);
                if (line.Contains("proposed payments.cancel_refund", StringComparison.Ordinal))
                    break;
            }
            Assert.True(seen.Any(l => l.Contains("proposed")), string.Join('\n', seen) + await cli.StandardError.ReadToEndAsync());
            cli.Kill(entireProcessTree: true);
            await cli.WaitForExitAsync();
        }
        fixture.SandboxSettings.LatencyMs = 0;

        var (exit, output) = await fixture.RollbackAsync(run);
        Assert.True(exit == 0, output);
        Assert.Equal(2, Calls(run, "/cancel").Count);
        Assert.Equal(0.00m, fixture.RefundedUsd("ORD-1001"));
        Assert.Equal(0.00m, fixture.RefundedUsd("ORD-1002"));
        Assert.Equal(2, await fixture.CountAsync("SELECT count(*) FROM policy_actions WHERE run_id = @run", new { run = RollbackRuns.For(run) }));
    }

    [Fact]
    public async Task A_compensation_whose_executor_is_killed_mid_call_is_never_repeated_and_waits_for_a_person()
    {
        var run = NewRun();
        var refund = (await fixture.ActAsync(run, ("payments.refund", new { orderId = "ORD-1001", amountUsd = 40.00, reason = "Cancelled order." })))[0];
        Assert.NotNull(refund.Succeeded);

        fixture.SandboxSettings.LatencyMs = 30_000;
        var rollback = Task.Run(() => fixture.RollbackAsync(run, "--wait", "5s"));
        await Eventually.True(() => Task.FromResult(Calls(run, "/cancel").Count == 1), "the cancellation to reach the shop", TimeSpan.FromSeconds(30));
        await fixture.PaymentsExecutor.KillAsync();
        fixture.SandboxSettings.LatencyMs = 0;
        var (stopped, first) = await rollback;
        Assert.True(stopped == 4, first);

        await fixture.PaymentsExecutor.DisposeAsync();
        await fixture.StartPaymentsExecutorAsync();
        var compensation = Compensations.ActionId(refund.ActionId, 1);
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM policy_actions WHERE action_id = @compensation AND outcome = 'outcome_unknown'", new { compensation }) == 1,
            "the lost compensation declared outcome unknown", TimeSpan.FromSeconds(60));

        var (again, output) = await fixture.RollbackAsync(run);
        Assert.True(again == 1, output);
        Assert.Contains("undo unknown", output);
        Assert.Contains("actions resolve", output);
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Single(Calls(run, "/cancel"));
    }

    [Fact]
    public async Task The_rollback_identity_can_only_undo_what_succeeded_with_the_declared_compensation()
    {
        var run = NewRun();
        var refund = (await fixture.ActAsync(run, ("payments.refund", new { orderId = "ORD-1002", amountUsd = 5.00, reason = "Goodwill." })))[0];
        var refundId = refund.Succeeded!.ExternalReference!;
        await using var undo = await fixture.ConnectAgentAsync("undo-bot");
        var undoRun = RollbackRuns.For(run);

        // Not a compensation at all.
        var alone = await undo.RunAsync("payments.cancel_refund", new { refundId }, undoRun, TimeSpan.FromSeconds(30));
        Assert.Equal(ReasonCodes.CompensationRequired, alone.Decision.ReasonCode);

        // A made-up action id, another refund's id, and an attempt out of order.
        async Task<ActionDecided> Claim(string actionId, object arguments, int attempt)
        {
            var id = await undo.ProposeAsync("payments.cancel_refund", System.Text.Json.JsonSerializer.SerializeToElement(arguments), undoRun,
                Compensations.IdempotencyKey(refund.ActionId, attempt), "forged", actionId, compensates: refund.ActionId);
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            return (await undo.WaitAsync(id, deadline.Token)).Decision;
        }
        Assert.Equal(ReasonCodes.CompensationInvalid, (await Claim(Guid.NewGuid().ToString(), new { refundId }, 1)).ReasonCode);
        Assert.Equal(ReasonCodes.CompensationInvalid, (await Claim(Compensations.ActionId(refund.ActionId, 1), new { refundId = "RF-999999" }, 1)).ReasonCode);
        Assert.Equal(ReasonCodes.CompensationInvalid, (await Claim(Compensations.ActionId(refund.ActionId, 3), new { refundId }, 3)).ReasonCode);
        Assert.Empty(Calls(run, "/cancel"));
        Assert.Equal(5.00m, fixture.RefundedUsd("ORD-1002"));

        // support-bot may not claim to undo anything.
        await using var agent = await fixture.ConnectAgentAsync("support-bot");
        var forged = await agent.ProposeAsync("payments.refund", System.Text.Json.JsonSerializer.SerializeToElement(new { orderId = "ORD-1002", amountUsd = 1.00, reason = "x" }),
            run, compensates: refund.ActionId);
        using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            Assert.Equal(ReasonCodes.NotRollbackIdentity, (await agent.WaitAsync(forged, deadline.Token)).Decision.ReasonCode);

        // Nor occupy the id of a future compensation with an action of its own: refused, and not recorded under that id.
        var occupied = await agent.ProposeAsync("payments.get_order", System.Text.Json.JsonSerializer.SerializeToElement(new { orderId = "ORD-1002" }),
            run, actionId: Compensations.ActionId(refund.ActionId, 2));
        using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            Assert.Equal(ReasonCodes.ActionIdReserved, (await agent.WaitAsync(occupied, deadline.Token)).Decision.ReasonCode);
        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM policy_actions WHERE action_id = @occupied", new { occupied }));

        // The genuine rollback is untouched by all of it: attempt 1 was used up by the forged arguments, attempt 2 undoes the refund.
        var (exit, output) = await fixture.RollbackAsync(run);
        Assert.True(exit == 0, output);
        Assert.Single(Calls(run, "/cancel"));
        Assert.Equal(0.00m, fixture.RefundedUsd("ORD-1002"));
    }
}
