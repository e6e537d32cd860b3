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
    public async Task InitializeAsync()
    {
        fixture.SandboxSettings.LatencyMs = 0;
        await fixture.ResetAsync();
    }

    public Task DisposeAsync()
    {
        fixture.SandboxSettings.LatencyMs = 0;
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
        var (resolved, output) = await AuditFixture.CliAsync(
            "actions", "resolve", refund.ActionId, "--succeeded", "--evidence", $"{refundId} for ORD-1001, 30.00 USD, in the shop's refunds",
            "--result", $$"""{"status": 201, "body": {{record}}}""", "--external-reference", refundId, "--operator", "olga",
            "--postgres", fixture.ConnectionString, "--rabbitmq-host", fixture.Servers.RabbitHost, "--rabbitmq-port", fixture.Servers.RabbitPort.ToString(),
            "--vhost", fixture.VirtualHost, "--secrets-dir", fixture.Secrets.Directory);
        Assert.True(resolved == 0, output);

        var (exit, undone) = await fixture.RollbackAsync(run, "--reason", "the damaged item was found");
        Assert.True(exit == 0, undone);
        Assert.Equal(0.00m, fixture.RefundedUsd("ORD-1001"));
        Assert.Single(fixture.SandboxCalls.Calls, c => c.Method == "POST" && c.Path.EndsWith($"/refunds/{refundId}/cancel", StringComparison.Ordinal));
        // The refund itself was never called again: one call, the one whose outcome was lost.
        Assert.Single(Refunds());
    }

    IReadOnlyList<AgentBus.SandboxApi.RecordedCall> Refunds() =>
        fixture.SandboxCalls.Calls.Where(c => c.Method == "POST" && c.Path.EndsWith("/refunds", StringComparison.Ordinal)).ToList();
}
