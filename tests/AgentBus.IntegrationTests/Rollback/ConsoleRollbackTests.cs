using AgentBus.IntegrationTests.Infrastructure;
using AgentBus.IntegrationTests.OperatorConsole;

namespace AgentBus.IntegrationTests.Rollback;

/// <summary>Undoing a run from the operator console: the same plan and the same rollback as `agentbus runs rollback`, audited with the operator's name.</summary>
[Collection(RollbackCollection.Name)]
public sealed class ConsoleRollbackTests(RollbackFixture fixture) : IAsyncLifetime
{
    ConsoleBrowser _browser = null!;

    public async Task InitializeAsync()
    {
        await fixture.ResetForTestAsync();
        _browser = await ConsoleBrowser.LaunchAsync(await fixture.ConsoleUrlAsync(new Dictionary<string, string?>
        {
            ["Console:RollbackIdentity"] = "undo-bot",
            ["Console:ApprovalsUrl"] = fixture.ApprovalsUrl.ToString(),
        }));
    }

    public async Task DisposeAsync()
    {
        await _browser.DisposeAsync();
        fixture.RestoreLatency();
    }

    [Fact]
    public async Task Controls_answer_who_can_move_money_from_the_catalogs_capabilities()
    {
        var token = (await fixture.Approvers.AddAsync("mona", ["console-viewers"], CancellationToken.None)).Token;
        var page = await _browser.SignInAsync(token, "/controls");
        var money = await page.Locator("tr[data-agent='support-bot'] td[data-capability='money.move']").InnerTextAsync();
        Assert.Contains("payments.refund", money);
        Assert.DoesNotContain("payments.get_order", money);
        Assert.Contains("payments.get_order", await page.Locator("tr[data-agent='support-bot'] td[data-capability='read']").InnerTextAsync());
        Assert.Contains("payments.cancel_refund", await page.Locator("tr[data-agent='careful-undo-bot'] td[data-capability='money.move']").InnerTextAsync());
        Assert.Contains("approval", await page.Locator("tr[data-agent='careful-undo-bot'] td[data-capability='money.move']").InnerTextAsync());
        Assert.Equal("—", (await page.Locator("tr[data-agent='undo-bot'] td[data-capability='data.delete']").InnerTextAsync()).Trim());
        await ConsoleBrowser.ShotAsync(page, "viewer-controls-catalog");

        await page.Locator("tr[data-agent='careful-undo-bot'] td[data-capability='money.move'] a").First.ClickAsync();
        var grant = await page.InnerTextAsync("main");
        Assert.Contains("cancel-needs-finance", grant);
        Assert.Contains("money.move", grant);
    }

    [Fact]
    public async Task An_operator_sees_the_plan_on_the_run_page_and_rolls_the_run_back_once()
    {
        var run = $"run-console-undo-{Guid.NewGuid():N}"[..28];
        var opened = (await fixture.ActAsync(run, ("ticketing.create_ticket", new { title = "Wrong customer", priority = "low" })))[0];
        var ticketId = opened.Succeeded!.ExternalReference!;
        Assert.NotNull((await fixture.ActAsync(run, ("payments.refund", new { orderId = "ORD-1001", amountUsd = 12.00, reason = "Wrong order." })))[0].Succeeded);
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE run_id = @Run AND event_type = 'ActionSucceeded'", new { Run = run }) == 2, "both outcomes in the audit");

        var token = (await fixture.Approvers.AddAsync("omar", ["console-operators"], CancellationToken.None)).Token;
        var page = await _browser.SignInAsync(token, $"/runs/{run}");
        var plan = await page.InnerTextAsync("table#rollback-plan");
        Assert.Contains("payments.cancel_refund", plan);
        Assert.Contains("ticketing.close_ticket", plan);
        await ConsoleBrowser.ShotAsync(page, "operator-run-rollback-plan");

        await page.FillAsync("#rollback-form input[name='reason']", "refunded the wrong customer");
        await page.ClickAsync("#rollback-run");
        Assert.Contains("Rolled back", await page.InnerTextAsync("#notice"));
        Assert.Contains("by omar", await page.InnerTextAsync("#notice"));
        await ConsoleBrowser.ShotAsync(page, "operator-run-rolled-back");

        Assert.Equal(0.00m, fixture.RefundedUsd("ORD-1001"));
        Assert.Equal("closed", fixture.TicketStatus(ticketId));
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE event_type = 'OperatorActionTaken' AND outcome = 'run.rollback' AND actor = 'omar'") == 1,
            "the rollback request in the audit under the operator's name");

        // Nothing is left to propose, and asking again changes nothing.
        await page.ReloadAsync();
        Assert.Equal(0, await page.Locator("#rollback-form").CountAsync());
    }
}
