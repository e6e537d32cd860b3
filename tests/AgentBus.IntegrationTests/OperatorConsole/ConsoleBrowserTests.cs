using System.Net;
using AgentBus.Contracts;
using AgentBus.IntegrationTests.Approvals;
using AgentBus.IntegrationTests.Infrastructure;
using Microsoft.Playwright;

namespace AgentBus.IntegrationTests.OperatorConsole;

/// <summary>
/// The operator console in a real browser (Debian's chromium, headless, driven by Playwright), against the
/// whole pipeline: each role signs in and walks every page, an operator suspends and resumes an agent, a
/// viewer can change nothing (no button, and the post refused), an auditor verifies the chain. Each page
/// is saved as a screenshot (<see cref="ConsoleBrowser.ScreenshotDirectory"/>).
/// </summary>
[Collection(ApprovalsCollection.Name)]
public sealed class ConsoleBrowserTests(ApprovalsFixture fixture) : IAsyncLifetime
{
    static readonly string[] Pages = ["/controls", "/runs", "/agents", "/dead-letters", "/gates", "/audit"];
    ConsoleBrowser _browser = null!;
    Uri _console = null!;

    public async Task InitializeAsync()
    {
        await fixture.ResetAllAsync();
        _console = await fixture.ConsoleUrlAsync();
        _browser = await ConsoleBrowser.LaunchAsync(_console);
    }

    public async Task DisposeAsync() => await _browser.DisposeAsync();

    Task<IPage> SignInAsync(string token) => _browser.SignInAsync(token);

    static Task ShotAsync(IPage page, string name) => ConsoleBrowser.ShotAsync(page, name);

    /// <summary>An auditor signs in, clicks "Verify now" and waits until the page shows the verification they asked for.</summary>
    async Task<IPage> VerifyAsAuditorAsync(string name)
    {
        var page = await SignInAsync(await fixture.AddApproverAsync(name, "console-auditors"));
        await page.GotoAsync(new Uri(_console, "/audit").ToString());
        await page.ClickAsync("button#verify");
        Assert.Contains("Verification started", await page.InnerTextAsync("#notice"));
        await Eventually.True(async () =>
        {
            await page.GotoAsync(new Uri(_console, "/audit").ToString());
            return (await page.InnerTextAsync("#verified-at")).Contains(name, StringComparison.Ordinal);
        }, "the auditor's verification on the page");
        return page;
    }

    /// <summary>Something for every page to show: an allowed ticket, a refund waiting for people, a dead letter.</summary>
    async Task<string> SeedAsync()
    {
        await using var agent = await fixture.ConnectAgentAsync("support-bot");
        const string run = "run-console";
        var ticket = await agent.ProposeAsync("ticketing",
            new { method = "POST", url = new Uri(fixture.SandboxUrl, "/ticketing/tickets").ToString(), body = new { title = "Printer on fire" } }, run,
            intent: "Open a ticket for the customer.");
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        Assert.NotNull((await agent.WaitAsync(ticket, wait.Token)).Succeeded);
        var refund = await agent.ProposeAsync("payments",
            new { method = "POST", url = new Uri(fixture.SandboxUrl, "/payments/refunds").ToString(), body = new { orderId = "ORD-9", amountUsd = 900 } }, run,
            intent: "Refund a double charge.");
        Assert.Equal(Decision.ApprovalRequired, (await agent.DecisionAsync(refund, wait.Token)).Decision);
        await new DeadLetterKit(fixture).SeedAsync("agentbus.projections_error", DeadLetterKit.Succeeded(runId: "run-dlq"));
        await Eventually.True(async () => await fixture.CountAsync("SELECT count(*) FROM audit_events WHERE run_id = @Run AND event_type = 'ActionSucceeded'",
            new { Run = run }) == 1, "the ticket's outcome in the audit");
        return run;
    }

    [Fact]
    public async Task Every_role_signs_in_and_walks_every_page_and_sees_what_its_role_allows()
    {
        var run = await SeedAsync();
        var people = new (string Name, string Group, string Role)[]
        {
            ("vera", "console-viewers", "viewer"), ("otto", "console-operators", "operator"), ("aude", "console-auditors", "auditor"),
        };
        foreach (var (name, group, role) in people)
        {
            var page = await SignInAsync(await fixture.AddApproverAsync(name, group));
            Assert.Contains(name, await page.InnerTextAsync("#who"));
            foreach (var path in Pages)
            {
                var response = await page.GotoAsync(new Uri(_console, path).ToString());
                Assert.Equal(200, response!.Status);
                Assert.Contains("AgentBus console", await page.TitleAsync());
                Assert.Equal(path, new Uri(page.Url).AbsolutePath);
                await ShotAsync(page, $"{role}{path.Replace('/', '-')}");
            }

            // What each page must answer, read as this role.
            await page.GotoAsync(new Uri(_console, "/controls").ToString());
            var refunds = page.Locator("tr[data-agent='support-bot'] td[data-capability='(none declared)']");
            Assert.Contains("payments", await refunds.InnerTextAsync());
            Assert.Contains("approval", await refunds.InnerTextAsync());
            await refunds.Locator("a", new() { HasText = "payments" }).ClickAsync();
            Assert.Contains("refunds-over-500", await page.InnerTextAsync("main"));
            await ShotAsync(page, $"{role}-controls-grant");

            await page.GotoAsync(new Uri(_console, $"/runs?agent=support-bot").ToString());
            await page.ClickAsync($"tr[data-run='{run}'] a");
            Assert.Equal(2, await page.Locator("svg#timeline g.lane").CountAsync());
            var story = await page.InnerTextAsync("main");
            Assert.Contains("Printer on fire", story);          // the redacted arguments
            Assert.Contains("refunds-over-500", story);         // the decision's rule
            Assert.Contains("approval_required", story);
            await ShotAsync(page, $"{role}-run-story");

            await page.GotoAsync(new Uri(_console, "/agents/support-bot").ToString());
            Assert.True(await page.Locator("#decisions tbody tr").CountAsync() >= 2);
            await ShotAsync(page, $"{role}-agent");

            await page.GotoAsync(new Uri(_console, "/dead-letters").ToString());
            Assert.Equal(1, await page.Locator("tr[data-queue='agentbus.projections_error']").CountAsync());
            Assert.Equal(role == "operator" ? 1 : 0, await page.Locator("button.replay").CountAsync());
            Assert.Equal(role == "operator" ? 1 : 0, await page.Locator("button.dry-run").CountAsync());

            await page.GotoAsync(new Uri(_console, "/agents").ToString());
            Assert.Equal(role == "operator" ? 4 : 0, await page.Locator("#agents button.suspend").CountAsync());
            await page.GotoAsync(new Uri(_console, "/audit").ToString());
            Assert.Equal(role == "auditor" ? 1 : 0, await page.Locator("button#verify").CountAsync());
            Assert.Equal(role == "auditor" ? 1 : 0, await page.Locator("table#trail").CountAsync());
            await page.Context.CloseAsync();
        }
    }

    [Fact]
    public async Task An_operator_suspends_and_resumes_an_agent_the_policy_denies_it_meanwhile_and_the_audit_names_the_operator()
    {
        var page = await SignInAsync(await fixture.AddApproverAsync("oona", "console-operators"));
        var row = page.Locator("tr[data-agent='intern-bot']");
        await row.Locator("input[name='reason']").FillAsync("runaway loop, incident 7");
        await ShotAsync(page, "operator-agents-before-suspend");
        await row.Locator("button.suspend").ClickAsync();

        Assert.Contains("Suspended agent intern-bot", await page.InnerTextAsync("#notice"));
        Assert.Contains("suspended", await page.Locator("tr[data-agent='intern-bot'] td.status").InnerTextAsync());
        Assert.Contains("oona", await page.Locator("tr[data-agent='intern-bot'] td.status").InnerTextAsync());
        await ShotAsync(page, "operator-agents-suspended");
        Assert.Equal(1, await fixture.CountAsync("SELECT count(*) FROM policy_suspensions WHERE kind = 'agent' AND name = 'intern-bot' AND suspended_by = 'oona'"));

        // The same kill switch as the CLI's: the policy denies the agent within a second.
        await fixture.RefreshSuspensionsAsync();
        await using (var agent = await fixture.ConnectAgentAsync("intern-bot"))
        {
            var action = await agent.ProposeAsync("ticketing", new { method = "POST", url = new Uri(fixture.SandboxUrl, "/ticketing/tickets").ToString(), body = new { title = "x" } },
                "run-suspended");
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var decision = await agent.DecisionAsync(action, wait.Token);
            Assert.Equal((Decision.Denied, ReasonCodes.AgentSuspended), (decision.Decision, decision.ReasonCode));
        }

        await page.Locator("tr[data-agent='intern-bot'] button.resume").ClickAsync();
        Assert.Contains("Resumed agent intern-bot", await page.InnerTextAsync("#notice"));
        Assert.Contains("active", await page.Locator("tr[data-agent='intern-bot'] td.status").InnerTextAsync());
        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM policy_suspensions WHERE name = 'intern-bot'"));

        await Eventually.True(async () => await fixture.CountAsync("""
            SELECT count(*) FROM audit_events
            WHERE event_type = 'OperatorActionTaken' AND agent_id = 'intern-bot' AND actor = 'oona' AND outcome IN ('agent.suspend', 'agent.resume')
            """) == 2, "both changes in the audit under the operator's name");
        Assert.Contains("runaway loop", (await fixture.QueryAsync<string>(
            "SELECT payload FROM audit_events WHERE event_type = 'OperatorActionTaken' AND outcome = 'agent.suspend' AND agent_id = 'intern-bot'")).Single());
    }

    [Fact]
    public async Task An_operator_dry_runs_then_replays_a_group_of_dead_letters_and_the_audit_names_them()
    {
        var kit = new DeadLetterKit(fixture);
        const string queue = "agentbus.projections_error";
        await kit.SeedAsync(queue, DeadLetterKit.Succeeded(runId: "run-replayed-1"));
        await kit.SeedAsync(queue, DeadLetterKit.Succeeded(runId: "run-replayed-2"));
        var page = await SignInAsync(await fixture.AddApproverAsync("orla", "console-operators"));
        await page.GotoAsync(new Uri(_console, "/dead-letters").ToString());
        var group = page.Locator($"tr[data-queue='{queue}']");
        Assert.Contains("2", await group.InnerTextAsync());
        await ShotAsync(page, "operator-dead-letters-before-replay");

        await page.Locator("table.groups button.dry-run").First.ClickAsync();
        Assert.Contains("Dry run: 2 message(s)", await page.InnerTextAsync("#notice"));
        await kit.DepthSettlesAtAsync(queue, 2);

        await page.Locator("table.groups button.replay").First.ClickAsync();
        Assert.Contains("Replayed 2 message(s)", await page.InnerTextAsync("#notice"));
        Assert.Contains("by orla", await page.InnerTextAsync("#notice"));
        await ShotAsync(page, "operator-dead-letters-replayed");
        Assert.Equal(0u, await kit.DepthAsync(queue));
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE event_type = 'OperatorActionTaken' AND outcome = 'dlq.replay' AND actor = 'orla'") >= 1,
            "the replay in the audit under the operator's name");
    }

    [Fact]
    public async Task A_viewer_has_no_buttons_and_every_change_it_posts_is_refused()
    {
        await new DeadLetterKit(fixture).SeedAsync("agentbus.projections_error", DeadLetterKit.Succeeded(runId: "run-viewer"));
        var page = await SignInAsync(await fixture.AddApproverAsync("vince", "console-viewers"));
        Assert.Equal(0, await page.Locator("form.switch").CountAsync());
        await page.GotoAsync(new Uri(_console, "/dead-letters").ToString());
        Assert.Equal(0, await page.Locator("form[action='/dead-letters/replay']").CountAsync());

        // The forms are absent, so post them by hand with the session and a valid antiforgery token (the sign-out form's).
        var antiforgery = await page.Locator("form[action='/signout'] input[type='hidden']").First.GetAttributeAsync("value");
        var field = await page.Locator("form[action='/signout'] input[type='hidden']").First.GetAttributeAsync("name");
        foreach (var (path, form) in new (string, Dictionary<string, string>)[]
                 {
                     ("/agents/intern-bot/suspend", new() { ["reason"] = "not mine to do" }),
                     ("/tools/payments/suspend", new() { ["reason"] = "nor this" }),
                     ("/dead-letters/replay", new() { ["queue"] = "agentbus.projections_error", ["group"] = "any", ["dryRun"] = "false" }),
                     ("/audit/verify", new()),
                 })
        {
            form[field!] = antiforgery!;
            var multipart = page.Context.APIRequest.CreateFormData();
            foreach (var (key, value) in form)
                multipart.Set(key, value);
            var response = await page.Context.APIRequest.PostAsync(new Uri(_console, path).ToString(),
                new APIRequestContextOptions { Form = multipart, MaxRedirects = 0 });
            Assert.True(response.Status == 403, $"{path}: {response.Status}");
            Assert.Contains("does not allow", await response.TextAsync());
        }
        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM policy_suspensions"));
        await new DeadLetterKit(fixture).DepthSettlesAtAsync("agentbus.projections_error", 1);

        // A script with the viewer's bearer token is refused the same way.
        using var http = new HttpClient { BaseAddress = _console };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", await fixture.AddApproverAsync("vick", "console-viewers"));
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/agents")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await http.PostAsync("/agents/intern-bot/suspend", new FormUrlEncodedContent([new("reason", "x")]))).StatusCode);
        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM policy_suspensions"));
    }

    [Fact]
    public async Task An_auditor_verifies_the_chain_on_demand_and_reads_the_operators_trail()
    {
        await SeedAsync();
        var operatorSession = await SignInAsync(await fixture.AddApproverAsync("opal", "console-operators"));
        await operatorSession.Locator("tr[data-tool='payments'] input[name='reason']").FillAsync("vendor outage");
        await operatorSession.Locator("tr[data-tool='payments'] button.suspend").ClickAsync();
        Assert.Contains("Suspended tool payments", await operatorSession.InnerTextAsync("#notice"));
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE event_type = 'OperatorActionTaken' AND tool = 'payments' AND actor = 'opal'") == 1, "the suspension in the audit");

        var page = await VerifyAsAuditorAsync("audra");
        Assert.Contains("intact", await page.InnerTextAsync("#chain-status"));
        var rows = await fixture.CountAsync("SELECT count(*) FROM audit_events");
        Assert.Contains($"row #{rows:N0}", await page.InnerTextAsync("#head"));
        var trail = await page.InnerTextAsync("table#trail");
        Assert.Contains("opal", trail);
        Assert.Contains("tool.suspend", trail);
        Assert.Contains("vendor outage", trail);
        await ShotAsync(page, "auditor-audit-verified");
    }

    [Fact]
    public async Task An_edited_audit_row_shows_as_a_broken_chain_with_its_first_bad_row()
    {
        var run = await SeedAsync();
        var edited = (await fixture.QueryAsync<long>(
            "SELECT seq FROM audit_events WHERE event_type = 'ActionSucceeded' AND run_id = @Run", new { Run = run })).Single();
        // What a break-glass edit (or a superuser) can do; the chain is how anyone finds out.
        await new DeadLetterKit(fixture).ExecuteSqlAsync(
            $"BEGIN; SET LOCAL agentbus.audit_break_glass = 'console test'; UPDATE audit_events SET outcome = 'failed' WHERE seq = {edited}; COMMIT;");

        var page = await VerifyAsAuditorAsync("abel");
        Assert.Contains("broken", await page.InnerTextAsync("#chain-status"));
        var first = await page.InnerTextAsync("#first-bad-row");
        Assert.Contains($"#{edited:N0}", first);
        Assert.Contains("edited", first);
        Assert.Contains("ActionSucceeded", first);
        await ShotAsync(page, "auditor-audit-broken");
    }
}
