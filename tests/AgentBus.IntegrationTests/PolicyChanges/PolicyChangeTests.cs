using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.IntegrationTests.Infrastructure;
using AgentBus.Policy.Engine;

namespace AgentBus.IntegrationTests.PolicyChanges;

/// <summary>Changing policy like code on the real pipeline: recorded versions, a shadow candidate, and replay against recorded traffic.</summary>
[Collection(PolicyChangeCollection.Name)]
public sealed class PolicyChangeTests(PolicyChangeFixture fixture) : IAsyncLifetime
{
    public async Task InitializeAsync()
    {
        await PolicyFiles.WriteAsync(fixture.PolicyFile, PolicyChangeFixture.LivePolicy);
        await fixture.ResetAsync();
    }

    public Task DisposeAsync() => Task.CompletedTask;

    static string LiveVersion(string yaml, string directory) => PolicyLoader.Parse(yaml, Path.Combine(directory, "policy.yaml")).Policy!.Version;

    string Directory => Path.GetDirectoryName(fixture.PolicyFile)!;

    [Fact]
    public async Task Every_version_put_in_force_is_recorded_with_its_content_and_can_be_shown_and_restored()
    {
        var first = LiveVersion(PolicyChangeFixture.LivePolicy, Directory);
        await Eventually.True(async () => await fixture.CountAsync("SELECT count(*) FROM policy_versions WHERE version = @first", new { first }) == 1,
            "the live version recorded");

        var edited = PolicyChangeFixture.LivePolicy + "\n" + """
              - id: intern-bot-lookups
                agent: intern-bot
                tool: payments
                operations: [get_order]
            """;
        await PolicyFiles.WriteAsync(fixture.PolicyFile, edited);
        var second = LiveVersion(edited, Directory);
        await Eventually.True(async () => await fixture.CountAsync("SELECT count(*) FROM policy_versions WHERE version = @second", new { second }) == 1,
            "the edited version recorded");

        var (listed, history) = await fixture.PolicyCliAsync("history", "--json");
        Assert.True(listed == 0, history);
        var versions = JsonDocument.Parse(history).RootElement.EnumerateArray().ToList();
        Assert.Contains(versions, v => v.GetProperty("version").GetString() == first && v.GetProperty("liveFrom").ValueKind != JsonValueKind.Null);
        Assert.Contains(versions, v => v.GetProperty("version").GetString() == second);
        Assert.Contains(versions, v => v.GetProperty("shadowFrom").ValueKind != JsonValueKind.Null);

        var (shown, text) = await fixture.PolicyCliAsync("show", second[..20]);
        Assert.True(shown == 0, text);
        Assert.Contains("intern-bot-lookups", text);

        // Back to the first version, catalog included, as the policy service would read it.
        var restoreTo = Path.Combine(System.IO.Directory.CreateTempSubdirectory("agentbus-restore-").FullName, "policies", "policy.yaml");
        var (restored, output) = await fixture.PolicyCliAsync("show", first, "--restore", restoreTo, "--yes");
        Assert.True(restored == 0, output);
        Assert.Equal(first, PolicyLoader.LoadFile(restoreTo).Policy!.Version);

        var (missing, error) = await fixture.PolicyCliAsync("show", "sha256:0000");
        Assert.NotEqual(0, missing);
        Assert.Contains("No recorded policy version", error);
    }

    [Fact]
    public async Task A_shadow_candidate_that_would_deny_is_counted_and_recorded_and_nothing_changes_for_the_agent()
    {
        await using var agent = await fixture.ConnectAgentAsync("support-bot");
        var run = "run-shadow-" + Guid.NewGuid().ToString("N")[..8];
        var refund = await agent.RunAsync("payments.refund", new { orderId = "ORD-1001", amountUsd = 30.00, reason = "Damaged." }, run, TimeSpan.FromSeconds(30));
        var lookup = await agent.RunAsync("payments.get_order", new { orderId = "ORD-1001" }, run, TimeSpan.FromSeconds(30));

        Assert.Equal(Decision.Allowed, refund.Decision.Decision);
        Assert.NotNull(refund.Succeeded);
        Assert.NotNull(lookup.Succeeded);
        Assert.Equal(30.00m, fixture.RefundedUsd("ORD-1001"));

        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM policy_shadow_disagreements WHERE action_id = @ActionId AND live_decision = 'allowed' AND candidate_decision = 'denied' " +
            "AND candidate_reason_code = 'constraint_violated' AND kind = 'decision'", new { refund.ActionId }) == 1, "the disagreement recorded");
        await Eventually.True(async () => await fixture.CountAsync("SELECT coalesce(sum(agreed), 0) FROM policy_shadow_counts") >= 1, "the agreement counted");
        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM policy_shadow_disagreements WHERE action_id = @ActionId", new { lookup.ActionId }));

        var (exit, report) = await fixture.PolicyCliAsync("shadow", "--json");
        Assert.True(exit == 0, report);
        var group = JsonDocument.Parse(report).RootElement.GetProperty("disagreements").EnumerateArray().Single();
        Assert.Equal("allowed", group.GetProperty("liveDecision").GetString());
        Assert.Equal("denied", group.GetProperty("candidateDecision").GetString());
        Assert.Equal("support-bot-shop/constraints/refund-ceiling", group.GetProperty("candidateRule").GetString());
        Assert.Contains(refund.ActionId, group.GetProperty("examples").GetString());
    }

    [Fact]
    public async Task Replay_reports_each_transition_by_rule_and_how_approvers_decided_and_gates_on_forbidden_ones()
    {
        await using var agent = await fixture.ConnectAgentAsync("support-bot");
        await using var intern = await fixture.ConnectAgentAsync("intern-bot");
        var run = "run-replay-" + Guid.NewGuid().ToString("N")[..8];
        var small = await agent.RunAsync("payments.refund", new { orderId = "ORD-1001", amountUsd = 50.00, reason = "Late." }, run, TimeSpan.FromSeconds(30));
        Assert.NotNull(small.Succeeded);
        var (_, token) = await fixture.Approvers.AddAsync("fay-" + Guid.NewGuid().ToString("N")[..6], ["finance"], CancellationToken.None);
        using var approvals = fixture.ApprovalsHttp(token);
        async Task<string> Pending(object arguments)
        {
            var actionId = await agent.ProposeAsync("payments.refund", arguments, run);
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var decided = await agent.DecisionAsync(actionId, deadline.Token);
            Assert.Equal(Decision.ApprovalRequired, decided.Decision);
            return decided.ApprovalId!;
        }
        var approved = await Pending(new { orderId = "ORD-1002", amountUsd = 160.00, reason = "Never arrived." });
        var approvedBig = await Pending(new { orderId = "ORD-1003", amountUsd = 150.00, reason = "Never arrived." });
        var deniedBig = await Pending(new { orderId = "ORD-1003", amountUsd = 200.00, reason = "Changed mind." });
        _ = await Pending(new { orderId = "ORD-1003", amountUsd = 120.00, reason = "Still deciding." });
        using (var yes = await approvals.PostAsJsonAsync($"/api/approvals/{approvedBig}/approve", new { comment = "ok" }))
            Assert.Equal(HttpStatusCode.OK, yes.StatusCode);
        using (var no = await approvals.PostAsJsonAsync($"/api/approvals/{deniedBig}/deny", new { comment = "no" }))
            Assert.Equal(HttpStatusCode.OK, no.StatusCode);
        var internRefund = await intern.RunAsync("payments.refund", new { orderId = "ORD-1002", amountUsd = 5.00, reason = "Goodwill." }, run, TimeSpan.FromSeconds(30));
        Assert.Equal(ReasonCodes.NoGrant, internRefund.Decision.ReasonCode);
        _ = approved;

        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE run_id = @run AND event_type = 'ActionDecided' AND reason_code IN ('approval_granted', 'approval_denied')",
            new { run }) == 2, "both approvals' final decisions in the audit");
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE run_id = @run AND event_type = 'ActionProposed'", new { run }) == 6, "every proposal in the audit");

        // The candidate: approval only above 250 USD, and interns may refund.
        var candidate = Path.Combine(Directory, "candidate.yaml");
        await File.WriteAllTextAsync(candidate, PolicyChangeFixture.LivePolicy.Replace("above: 100", "above: 250", StringComparison.Ordinal) + "\n" + """
              - id: intern-bot-refunds
                agent: intern-bot
                tool: payments
                operations: [refund]
            """);

        var (exit, output) = await fixture.PolicyCliAsync("replay", candidate, "--since", "1h", "--json");
        Assert.True(exit == 0, output);
        var report = JsonDocument.Parse(output).RootElement.GetProperty("report");
        Assert.Equal(6, report.GetProperty("proposals").GetInt32());
        Assert.Equal(6, report.GetProperty("replayed").GetInt32());
        var transitions = report.GetProperty("transitions").EnumerateArray()
            .ToDictionary(t => $"{t.GetProperty("transition").GetString()} {t.GetProperty("candidateRule").GetString()}", t => t.GetProperty("count").GetInt32());
        Assert.Equal(4, transitions["approval→allowed support-bot-shop"]);
        Assert.Equal(1, transitions["denied→allowed intern-bot-refunds"]);
        Assert.Equal(2, transitions.Count);
        var history = report.GetProperty("noLongerNeedApproval");
        Assert.Equal((1, 1, 2), (history.GetProperty("approved").GetInt32(), history.GetProperty("denied").GetInt32(), history.GetProperty("pending").GetInt32()));

        var (gated, gate) = await fixture.PolicyCliAsync("replay", candidate, "--since", "1h", "--fail-on", "denied-to-allowed");
        Assert.True(gated == 3, gate);
        Assert.Contains("Forbidden transition", gate);
        var (passed, _) = await fixture.PolicyCliAsync("replay", candidate, "--since", "1h", "--fail-on", "allowed-to-denied,allowed-to-approval");
        Assert.Equal(0, passed);
        // State is simulated under the candidate's terms: at 2 calls a minute, support-bot's last three proposals are refused.
        var throttled = Path.Combine(Directory, "throttled.yaml");
        await File.WriteAllTextAsync(throttled, PolicyChangeFixture.LivePolicy + "\nlimits:\n  agents:\n    support-bot: { callsPerMinute: 2 }\n");
        var (simulated, stateful) = await fixture.PolicyCliAsync("replay", throttled, "--since", "1h", "--json");
        Assert.True(simulated == 0, stateful);
        var limited = JsonDocument.Parse(stateful).RootElement.GetProperty("report").GetProperty("transitions").EnumerateArray().Single();
        Assert.Equal(("approval→denied", "limits.agents.support-bot.callsPerMinute", ReasonCodes.RateLimited, 3),
            (limited.GetProperty("transition").GetString(), limited.GetProperty("candidateRule").GetString(),
             limited.GetProperty("candidateReasonCode").GetString(), limited.GetProperty("count").GetInt32()));

        var (bad, refused) = await fixture.PolicyCliAsync("replay", candidate, "--fail-on", "sideways");
        Assert.Equal(2, bad);
        Assert.Contains("not a transition", refused);
    }
}
