using System.Text.Json;
using AgentBus.IntegrationTests.Audit;
using AgentBus.IntegrationTests.Infrastructure;

namespace AgentBus.IntegrationTests.Rollback;

/// <summary>
/// Issue 17's integration test: an outcome-unknown action is resolved and then rolled back. The refund
/// reaches the shop, its executor is killed mid-call, a new copy declares the outcome unknown; rollback
/// waits for a person; the operator finds the refund in the shop and resolves the action with the
/// shop's record; rollback then cancels it through the policy, like any refund an executor reported.
/// </summary>
[Collection(RollbackCollection.Name)]
public sealed class ResolveThenRollbackTests(RollbackFixture fixture) : IAsyncLifetime
{
    public Task InitializeAsync() => fixture.ResetForTestAsync();

    public Task DisposeAsync()
    {
        fixture.RestoreLatency();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task An_outcome_unknown_action_is_resolved_and_then_rolled_back()
    {
        var run = "run-" + Guid.NewGuid().ToString("N")[..12];
        fixture.SandboxSettings.LatencyMs = 30_000;
        var acting = Task.Run(() => fixture.ActAsync(run, ("payments.refund", new { orderId = "ORD-1001", amountUsd = 30.00, reason = "Damaged." })));
        await Eventually.True(() => Task.FromResult(Refunds().Count == 1), "the refund to reach the shop", TimeSpan.FromSeconds(30));
        await fixture.PaymentsExecutor.KillAsync();
        fixture.SandboxSettings.LatencyMs = 0;
        await fixture.PaymentsExecutor.DisposeAsync();
        await fixture.StartPaymentsExecutorAsync();

        var refund = (await acting)[0];
        Assert.True(refund.Failed?.OutcomeUnknown, $"expected outcome unknown, got {refund.Failed?.ErrorCode ?? "a success"}");
        var refundId = Refunds().Single().Reference!;
        Assert.Equal(30.00m, fixture.RefundedUsd("ORD-1001"));

        var (waits, plan) = await fixture.RollbackAsync(run);
        Assert.True(waits == 1, plan);
        Assert.Contains($"actions resolve {refund.ActionId}", plan);

        // What the operator reads in the shop: the refund record, as GET /refunds/{id} returns it.
        var record = JsonSerializer.Serialize(fixture.Shop.GetRefund(refundId).Body, new JsonSerializerOptions(JsonSerializerDefaults.Web));
        var (resolved, output) = await ResolveAsync(refund.ActionId, "--succeeded", "--evidence", $"{refundId} for ORD-1001, 30.00 USD, in the shop's refunds",
            "--result", $$"""{"status": 201, "body": {{record}}}""", "--external-reference", refundId, "--operator", "olga");
        Assert.True(resolved == 0, output);

        var (exit, undone) = await fixture.RollbackAsync(run, "--reason", "the damaged item was found");
        Assert.True(exit == 0, undone);
        Assert.Equal(0.00m, fixture.RefundedUsd("ORD-1001"));
        Assert.Single(fixture.SandboxCalls.Calls, c => c.Method == "POST" && c.Path.EndsWith($"/refunds/{refundId}/cancel", StringComparison.Ordinal));
        // The refund itself was never called again: one call, the one whose outcome was lost.
        Assert.Single(Refunds());
    }

    [Fact]
    public async Task A_compensation_whose_outcome_is_unknown_is_resolved_and_the_rollback_then_completes_without_a_second_cancel()
    {
        var run = "run-" + Guid.NewGuid().ToString("N")[..12];
        var refund = (await fixture.ActAsync(run, ("payments.refund", new { orderId = "ORD-1002", amountUsd = 15.00, reason = "Late." })))[0];
        var refundId = refund.Succeeded!.ExternalReference!;

        fixture.SandboxSettings.LatencyMs = 30_000;
        var rollback = Task.Run(() => fixture.RollbackAsync(run, "--wait", "5s"));
        await Eventually.True(() => Task.FromResult(Cancels(refundId).Count == 1), "the cancellation to reach the shop", TimeSpan.FromSeconds(30));
        await fixture.PaymentsExecutor.KillAsync();
        fixture.SandboxSettings.LatencyMs = 0;
        await rollback;
        await fixture.PaymentsExecutor.DisposeAsync();
        await fixture.StartPaymentsExecutorAsync();
        var compensation = AgentBus.Policy.Rollback.Compensations.ActionId(refund.ActionId, 1);
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM policy_actions WHERE action_id = @compensation AND outcome = 'outcome_unknown'", new { compensation }) == 1,
            "the lost compensation declared outcome unknown", TimeSpan.FromSeconds(60));
        var (_, listed) = await AuditFixture.CliAsync("actions", "unknown", "--postgres", fixture.ConnectionString, "--json");
        Assert.Contains(compensation, listed);

        var record = JsonSerializer.Serialize(fixture.Shop.GetRefund(refundId).Body, new JsonSerializerOptions(JsonSerializerDefaults.Web));
        Assert.Contains("cancel", record);
        var (resolved, output) = await ResolveAsync(compensation, "--succeeded", "--evidence", $"{refundId} shows as cancelled in the shop",
            "--result", $$"""{"status": 201, "body": {{record}}}""", "--operator", "olga");
        Assert.True(resolved == 0, output);

        var (exit, again) = await fixture.RollbackAsync(run);
        Assert.True(exit == 0, again);
        Assert.Single(Cancels(refundId));
        Assert.Equal(0.00m, fixture.RefundedUsd("ORD-1002"));
    }

    Task<(int Exit, string Output)> ResolveAsync(params string[] args) => AuditFixture.CliAsync(
    [
        "actions", "resolve", .. args, "--postgres", fixture.ConnectionString, "--rabbitmq-host", fixture.Servers.RabbitHost,
        "--rabbitmq-port", fixture.Servers.RabbitPort.ToString(), "--vhost", fixture.VirtualHost, "--secrets-dir", fixture.Secrets.Directory,
    ]);

    IReadOnlyList<AgentBus.SandboxApi.RecordedCall> Cancels(string refundId) =>
        fixture.SandboxCalls.Calls.Where(c => c.Method == "POST" && c.Path.EndsWith($"/refunds/{refundId}/cancel", StringComparison.Ordinal)).ToList();

    IReadOnlyList<AgentBus.SandboxApi.RecordedCall> Refunds() =>
        fixture.SandboxCalls.Calls.Where(c => c.Method == "POST" && c.Path.EndsWith("/refunds", StringComparison.Ordinal)).ToList();
}
