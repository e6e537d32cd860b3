using AgentBus.Contracts;
using AgentBus.IntegrationTests.Infrastructure;
using Microsoft.Playwright;

namespace AgentBus.IntegrationTests.Approvals;

/// <summary>
/// The inbox page in a real browser: Debian's chromium, headless, driven by Playwright (the system
/// browser, never a downloaded one; ops/test.sh installs the package).
/// </summary>
[Collection(ApprovalsCollection.Name)]
public sealed class InboxBrowserTests(ApprovalsFixture fixture) : IAsyncLifetime
{
    readonly string _profile = Directory.CreateTempSubdirectory("agentbus-chromium-").FullName;
    IPlaywright _playwright = null!;
    IBrowserContext _browser = null!;

    public async Task InitializeAsync()
    {
        await fixture.ResetAllAsync();
        SystemChromium.EnsureInstalled();
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchPersistentContextAsync(_profile, new BrowserTypeLaunchPersistentContextOptions
        {
            ExecutablePath = SystemChromium.Path,
            Headless = true,
            Args = SystemChromium.Args,
            Timeout = 60_000,
        });
        _browser.SetDefaultTimeout(20_000);
    }

    public async Task DisposeAsync()
    {
        await _browser.CloseAsync();
        _playwright.Dispose();
        try
        {
            Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
            // Chromium may still be writing its profile as it exits; a leftover temp folder is harmless.
        }
    }

    [Fact]
    public async Task An_approver_signs_in_with_a_token_approves_an_item_and_the_action_is_executed_once()
    {
        var token = await fixture.AddApproverAsync("bob", "finance");
        // A real proposal through policy: the agent waits for people.
        await using var agent = await fixture.ConnectAgentAsync("support-bot");
        var actionId = await agent.ProposeAsync("payments",
            new { method = "POST", url = new Uri(fixture.SandboxUrl, "/payments/refunds").ToString(), body = new { orderId = "ORD-77", amountUsd = 900, apiKey = "sk-live-123" } },
            "run-inbox", intent: "Refund a double charge.");
        using var waiting = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var first = await agent.DecisionAsync(actionId, waiting.Token);
        Assert.Equal(Decision.ApprovalRequired, first.Decision);
        var approvalId = Guid.Parse(first.ApprovalId!);
        await Eventually.True(async () => await fixture.StateAsync(approvalId) == "Pending", "the approval in the saga");
        var page = await _browser.NewPageAsync();

        await page.GotoAsync(new Uri(fixture.Approvals.ServerUrl, "/inbox").ToString());
        Assert.EndsWith("/inbox/signin?ReturnUrl=%2Finbox", page.Url);

        await page.FillAsync("#token", "abt_wrong");
        await page.ClickAsync("#signin");
        Assert.Contains("not valid", await page.InnerTextAsync("#notice"));

        await page.FillAsync("#token", token);
        await page.ClickAsync("#signin");
        var card = page.Locator($"section[data-approval-id='{approvalId}']");
        await card.WaitForAsync();
        var text = await card.InnerTextAsync();
        Assert.Contains("payments", text);
        Assert.Contains("support-bot", text);
        Assert.Contains("refunds-over-500", text);
        Assert.Contains("ORD-77", text);
        Assert.Contains("alice", text);                 // requested by the agent's owner
        Assert.DoesNotContain("sk-live-123", text);      // secret-looking arguments are masked

        await card.Locator("textarea[name='comment']").FillAsync("Double charge confirmed with the customer.");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Path.GetTempPath(), "agentbus-inbox-pending.png"), FullPage = true });
        await card.Locator("button.approve").ClickAsync();

        var notice = await page.InnerTextAsync("#notice");
        Assert.Contains("Approved", notice);
        Assert.Contains("granted", notice);
        Assert.Equal(0, await page.Locator($"section[data-approval-id='{approvalId}']").CountAsync());
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Path.GetTempPath(), "agentbus-inbox-approved.png"), FullPage = true });

        // Policy re-checked the grant, used it and signed the command: the agent hears it, and the
        // system of record received the refund exactly once.
        using var finished = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var result = await agent.WaitAsync(actionId, finished.Token);
        Assert.Equal((Decision.Allowed, ReasonCodes.ApprovalGranted), (result.Decision.Decision, result.Decision.ReasonCode));
        Assert.Contains("bob", result.Decision.Reason);
        Assert.NotNull(result.Succeeded);
        await Task.Delay(TimeSpan.FromSeconds(1));
        var call = Assert.Single(fixture.SandboxCalls.Calls, c => c.ActionId == actionId);
        Assert.Equal("ORD-77", call.Body!.Value.GetProperty("orderId").GetString());
        Assert.Equal("Consumed", await fixture.StateAsync(approvalId));

        // The item's page now tells the run's story, with who approved.
        await page.GotoAsync(new Uri(fixture.Approvals.ServerUrl, $"/inbox/{approvalId}").ToString());
        await Eventually.True(async () =>
        {
            await page.ReloadAsync();
            return (await page.InnerTextAsync("main")).Contains("ApprovalVoteRecorded", StringComparison.Ordinal);
        }, "the run's story on the item's page");
        var story = await page.InnerTextAsync("main");
        Assert.Contains("by bob", story);
        Assert.Contains("ActionSucceeded", story);
    }

    [Fact]
    public async Task A_denial_with_a_comment_is_shown_and_recorded()
    {
        var token = await fixture.AddApproverAsync("carol", "finance");
        var request = await fixture.RequestApprovalAsync(ApprovalsFixture.Request());
        var page = await _browser.NewPageAsync();

        await page.GotoAsync(new Uri(fixture.Approvals.ServerUrl, "/inbox/signin").ToString());
        await page.FillAsync("#token", token);
        await page.ClickAsync("#signin");
        var card = page.Locator($"section[data-approval-id='{request.ApprovalId}']");
        await card.Locator("textarea[name='comment']").FillAsync("Not without a ticket.");
        await card.Locator("button.deny").ClickAsync();

        Assert.Contains("Denied", await page.InnerTextAsync("#notice"));
        await Eventually.True(async () => await fixture.StateAsync(request.ApprovalId) == "Denied", "the denial");
        var outcomes = await fixture.WaitForOutcomesAsync(request.ApprovalId, o => o.Any(x => x.Type == nameof(ApprovalDenied)), "the denial event");
        Assert.Equal("Not without a ticket.", outcomes.Single().Body.GetProperty("comment").GetString());
    }
}
