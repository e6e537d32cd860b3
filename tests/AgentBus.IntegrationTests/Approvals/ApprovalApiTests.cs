using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.Audit.Redaction;
using AgentBus.IntegrationTests.Audit;
using AgentBus.IntegrationTests.Infrastructure;
using AgentBus.Projections.Audit;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AgentBus.IntegrationTests.Approvals;

/// <summary>
/// The approval saga and the approvers' HTTP API on the real broker and database, with approval
/// requests and consumptions published straight to the saga as the policy service's broker user
/// (policy ignores outcomes of approvals it did not ask for): what the saga published and what it
/// refused. The same stories end to end, through an agent, policy and the executor, are in
/// <see cref="ApprovalPipelineTests"/>.
/// </summary>
[Collection(ApprovalsCollection.Name)]
public sealed class ApprovalApiTests(ApprovalsFixture fixture) : IAsyncLifetime
{
    public Task InitializeAsync() => fixture.ResetAllAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    static Task<HttpResponseMessage> Approve(HttpClient http, Guid id, string? comment = null) =>
        http.PostAsJsonAsync($"/api/approvals/{id}/approve", new { comment });

    static Task<HttpResponseMessage> Deny(HttpClient http, Guid id, string? comment = null) =>
        http.PostAsJsonAsync($"/api/approvals/{id}/deny", new { comment });

    static async Task<JsonElement> Json(HttpResponseMessage response) => await response.Content.ReadFromJsonAsync<JsonElement>();

    [Fact]
    public async Task Two_approvers_at_once_with_quorum_1_grant_once_and_the_grant_is_consumed_once()
    {
        var bob = fixture.Approvals.Http(await fixture.AddApproverAsync("bob", "finance"));
        var carol = fixture.Approvals.Http(await fixture.AddApproverAsync("carol", "finance"));
        var request = await fixture.RequestApprovalAsync(ApprovalsFixture.Request(quorum: 1));

        var responses = await Task.WhenAll(Approve(bob, request.ApprovalId), Approve(carol, request.ApprovalId));

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.Conflict], responses.Select(r => r.StatusCode).Order());
        Assert.Equal("Granted", await fixture.StateAsync(request.ApprovalId));
        var outcomes = await fixture.WaitForOutcomesAsync(request.ApprovalId, o => o.Any(x => x.Type == nameof(ApprovalGranted)), "the grant");
        var granted = Assert.Single(outcomes, o => o.Type == nameof(ApprovalGranted));
        Assert.Single(granted.Body.GetProperty("approvers").EnumerateArray());
        Assert.Equal(request.ArgumentsHash, granted.Body.GetProperty("argumentsHash").GetString());

        // Two consumptions racing for the grant: exactly one wins.
        await Task.WhenAll(fixture.ConsumeAsync(ApprovalsFixture.Consumption(request)), fixture.ConsumeAsync(ApprovalsFixture.Consumption(request)));
        outcomes = await fixture.WaitForOutcomesAsync(request.ApprovalId,
            o => o.Count(x => x.Type is nameof(ApprovalConsumed) or nameof(ApprovalConsumptionRefused)) == 2, "both consumption answers");
        var consumed = Assert.Single(outcomes, o => o.Type == nameof(ApprovalConsumed));
        Assert.Equal(request.ArgumentsHash, consumed.Body.GetProperty("argumentsHash").GetString());
        Assert.Equal(request.Arguments.GetRawText(), consumed.Body.GetProperty("arguments").GetRawText());
        var refused = Assert.Single(outcomes, o => o.Type == nameof(ApprovalConsumptionRefused));
        Assert.Equal(ApprovalReasonCodes.AlreadyConsumed, refused.Body.GetProperty("reasonCode").GetString());
        Assert.Equal("Consumed", await fixture.StateAsync(request.ApprovalId));
    }

    [Fact]
    public async Task Quorum_2_needs_two_different_people_and_a_repeated_approval_is_idempotent()
    {
        var bob = fixture.Approvals.Http(await fixture.AddApproverAsync("bob", "finance"));
        var carol = fixture.Approvals.Http(await fixture.AddApproverAsync("carol", "finance", "ops"));
        var request = await fixture.RequestApprovalAsync(ApprovalsFixture.Request(quorum: 2));

        var first = await Approve(bob, request.ApprovalId, "looks right");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("pending", (await Json(first)).GetProperty("status").GetString());

        var again = await Approve(bob, request.ApprovalId, "looks right");
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        var repeat = await Json(again);
        Assert.Equal("repeated", repeat.GetProperty("outcome").GetString());
        Assert.Equal("pending", repeat.GetProperty("status").GetString());
        Assert.Equal(["bob"], repeat.GetProperty("approvers").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal("Pending", await fixture.StateAsync(request.ApprovalId));

        var second = await Approve(carol, request.ApprovalId);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        var granted = await Json(second);
        Assert.Equal("granted", granted.GetProperty("status").GetString());
        Assert.Equal(["bob", "carol"], granted.GetProperty("approvers").EnumerateArray().Select(a => a.GetString()).Order());

        // The same approver, the same verdict, after the decision: the same result, still 200.
        var late = await Approve(carol, request.ApprovalId);
        Assert.Equal(HttpStatusCode.OK, late.StatusCode);
        Assert.Equal("granted", (await Json(late)).GetProperty("status").GetString());
        // Someone else arriving after the decision: 409.
        var dave = fixture.Approvals.Http(await fixture.AddApproverAsync("dave", "finance"));
        Assert.Equal(HttpStatusCode.Conflict, (await Approve(dave, request.ApprovalId)).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await Deny(dave, request.ApprovalId)).StatusCode);
    }

    [Fact]
    public async Task The_requester_and_the_owning_team_cannot_approve_and_other_groups_are_forbidden()
    {
        var alice = fixture.Approvals.Http(await fixture.AddApproverAsync("alice", "finance"));
        var sam = fixture.Approvals.Http(await fixture.AddApproverAsync("sam", "finance"));
        var eve = fixture.Approvals.Http(await fixture.AddApproverAsync("eve", "marketing"));
        var request = await fixture.RequestApprovalAsync(ApprovalsFixture.Request(requestedBy: "Alice", excluded: ["sam"]));

        var own = await Approve(alice, request.ApprovalId);
        Assert.Equal(HttpStatusCode.Forbidden, own.StatusCode);
        Assert.Equal(ApprovalReasonCodes.SeparationOfDuties, (await Json(own)).GetProperty("reasonCode").GetString());
        var team = await Approve(sam, request.ApprovalId);
        Assert.Equal(HttpStatusCode.Forbidden, team.StatusCode);
        Assert.Equal(ApprovalReasonCodes.SeparationOfDuties, (await Json(team)).GetProperty("reasonCode").GetString());
        var outsider = await Approve(eve, request.ApprovalId);
        Assert.Equal(HttpStatusCode.Forbidden, outsider.StatusCode);
        Assert.Equal(ApprovalReasonCodes.NotInGroup, (await Json(outsider)).GetProperty("reasonCode").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, (await eve.GetAsync($"/api/approvals/{request.ApprovalId}")).StatusCode);

        Assert.Equal("Pending", await fixture.StateAsync(request.ApprovalId));
        Assert.Empty(await fixture.OutcomesAsync(request.ApprovalId));
    }

    [Fact]
    public async Task Calls_without_a_valid_token_are_401_and_unknown_approvals_404()
    {
        var request = await fixture.RequestApprovalAsync(ApprovalsFixture.Request());
        var bobToken = await fixture.AddApproverAsync("bob", "finance");

        using var anonymous = fixture.Approvals.Http();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/approvals")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Approve(anonymous, request.ApprovalId)).StatusCode);
        using var forged = fixture.Approvals.Http("abt_" + new string('A', 43));
        Assert.Equal(HttpStatusCode.Unauthorized, (await Approve(forged, request.ApprovalId)).StatusCode);
        using var garbage = fixture.Approvals.Http("not-a-token");
        Assert.Equal(HttpStatusCode.Unauthorized, (await garbage.GetAsync("/api/approvals")).StatusCode);

        using var bob = fixture.Approvals.Http(bobToken);
        Assert.Equal(HttpStatusCode.NotFound, (await bob.GetAsync($"/api/approvals/{Guid.NewGuid()}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Approve(bob, Guid.NewGuid())).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await bob.PostAsJsonAsync("/api/approvals/not-a-guid/approve", new { })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Approve(bob, request.ApprovalId, new string('x', 2001))).StatusCode);

        // A revoked token stops working at once.
        Assert.True(await fixture.Approvers.RevokeAsync("bob", CancellationToken.None));
        Assert.Equal(HttpStatusCode.Unauthorized, (await bob.GetAsync("/api/approvals")).StatusCode);
        Assert.Equal("Pending", await fixture.StateAsync(request.ApprovalId));
    }

    [Fact]
    public async Task An_approval_after_expiry_is_refused_and_expiry_never_approves()
    {
        var bob = fixture.Approvals.Http(await fixture.AddApproverAsync("bob", "finance"));
        var request = await fixture.RequestApprovalAsync(ApprovalsFixture.Request(expiresIn: TimeSpan.FromSeconds(2)));

        await Eventually.True(async () => await fixture.StateAsync(request.ApprovalId) == "Expired", "the sweeper to expire the approval");
        var late = await Approve(bob, request.ApprovalId);

        Assert.Equal(HttpStatusCode.Conflict, late.StatusCode);
        Assert.Equal(ApprovalReasonCodes.Expired, (await Json(late)).GetProperty("reasonCode").GetString());
        var outcomes = await fixture.WaitForOutcomesAsync(request.ApprovalId, o => o.Any(x => x.Type == nameof(ApprovalExpired)), "the expiry");
        Assert.Single(outcomes);
        Assert.DoesNotContain(outcomes, o => o.Type == nameof(ApprovalGranted));

        await fixture.ConsumeAsync(ApprovalsFixture.Consumption(request));
        outcomes = await fixture.WaitForOutcomesAsync(request.ApprovalId, o => o.Any(x => x.Type == nameof(ApprovalConsumptionRefused)), "the refusal");
        Assert.Equal(ApprovalReasonCodes.Expired, outcomes.Single(o => o.Type == nameof(ApprovalConsumptionRefused)).Body.GetProperty("reasonCode").GetString());
    }

    [Fact]
    public async Task A_vote_racing_the_expiry_is_decided_by_the_saga_and_never_approves()
    {
        var bob = fixture.Approvals.Http(await fixture.AddApproverAsync("bob", "finance"));
        var request = await fixture.RequestApprovalAsync(ApprovalsFixture.Request(expiresIn: TimeSpan.FromMilliseconds(1500)));
        await Task.Delay(request.ExpiresAt - DateTimeOffset.UtcNow + TimeSpan.FromMilliseconds(20));

        // The sweeper and this vote race for the row; whichever comes first, the approval expires.
        var late = await Approve(bob, request.ApprovalId);
        Assert.Equal(HttpStatusCode.Conflict, late.StatusCode);
        await Eventually.True(async () => await fixture.StateAsync(request.ApprovalId) == "Expired", "expired");
        var outcomes = await fixture.WaitForOutcomesAsync(request.ApprovalId, o => o.Any(x => x.Type == nameof(ApprovalExpired)), "the expiry");
        Assert.DoesNotContain(outcomes, o => o.Type == nameof(ApprovalGranted));
    }

    [Fact]
    public async Task Arguments_changed_after_approval_are_refused_and_a_replayed_grant_cannot_be_used_twice()
    {
        var bob = fixture.Approvals.Http(await fixture.AddApproverAsync("bob", "finance"));
        var request = await fixture.RequestApprovalAsync(ApprovalsFixture.Request());
        Assert.Equal(HttpStatusCode.OK, (await Approve(bob, request.ApprovalId)).StatusCode);

        var tampered = ApprovalsFixture.Consumption(request, argumentsHash: "sha256:" + new string('0', 64));
        await fixture.ConsumeAsync(tampered);
        var outcomes = await fixture.WaitForOutcomesAsync(request.ApprovalId, o => o.Any(x => x.Type == nameof(ApprovalConsumptionRefused)), "the refusal");
        Assert.Equal(ApprovalReasonCodes.BindingMismatch, outcomes.Single(o => o.Type == nameof(ApprovalConsumptionRefused)).Body.GetProperty("reasonCode").GetString());
        Assert.Equal("Granted", await fixture.StateAsync(request.ApprovalId));

        // One at a time, so the test knows which comes first (concurrent consumptions: the first test).
        var genuine = ApprovalsFixture.Consumption(request);
        await fixture.ConsumeAsync(genuine);
        await fixture.WaitForOutcomesAsync(request.ApprovalId, o => o.Count(x => x.Type == nameof(ApprovalConsumed)) == 1, "the consumption");
        await fixture.ConsumeAsync(genuine);                                  // the same consumption, redelivered
        await fixture.WaitForOutcomesAsync(request.ApprovalId, o => o.Count(x => x.Type == nameof(ApprovalConsumed)) == 2, "the repeat");
        await fixture.ConsumeAsync(ApprovalsFixture.Consumption(request));    // the grant replayed under another consumption
        outcomes = await fixture.WaitForOutcomesAsync(request.ApprovalId,
            o => o.Count(x => x.Type == nameof(ApprovalConsumptionRefused)) == 2, "the replay's refusal");

        var consumed = outcomes.Where(o => o.Type == nameof(ApprovalConsumed)).Select(o => o.Body).ToList();
        Assert.All(consumed, c => Assert.Equal(genuine.ConsumptionId, c.GetProperty("consumptionId").GetGuid()));
        Assert.Equal([false, true], consumed.Select(c => c.GetProperty("repeated").GetBoolean()));
        var refusals = outcomes.Where(o => o.Type == nameof(ApprovalConsumptionRefused)).Select(o => o.Body.GetProperty("reasonCode").GetString()).ToList();
        Assert.Equal([ApprovalReasonCodes.BindingMismatch, ApprovalReasonCodes.AlreadyConsumed], refusals);
        Assert.Equal("Consumed", await fixture.StateAsync(request.ApprovalId));
    }

    [Fact]
    public async Task An_approval_pending_when_the_service_is_killed_still_works_after_a_restart()
    {
        var bobToken = await fixture.AddApproverAsync("bob", "finance");
        var request = await fixture.RequestApprovalAsync(ApprovalsFixture.Request());

        await fixture.RestartApprovalsAsync();

        using var bob = fixture.Approvals.Http(bobToken);
        var response = await Approve(bob, request.ApprovalId);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("granted", (await Json(response)).GetProperty("status").GetString());
        await fixture.WaitForOutcomesAsync(request.ApprovalId, o => o.Any(x => x.Type == nameof(ApprovalGranted)), "the grant");
    }

    [Fact]
    public async Task Suspending_the_agent_while_pending_cancels_its_approvals()
    {
        var bob = fixture.Approvals.Http(await fixture.AddApproverAsync("bob", "finance"));
        var mine = await fixture.RequestApprovalAsync(ApprovalsFixture.Request(agent: "support-bot"));
        var other = await fixture.RequestApprovalAsync(ApprovalsFixture.Request(agent: "intern-bot"));

        await fixture.SuspendAsync("agent.suspend", "support-bot");

        await Eventually.True(async () => await fixture.StateAsync(mine.ApprovalId) == "Cancelled", "the approval to be cancelled");
        var outcomes = await fixture.WaitForOutcomesAsync(mine.ApprovalId, o => o.Any(x => x.Type == nameof(ApprovalCancelled)), "the cancellation");
        Assert.Contains("support-bot", outcomes.Single().Body.GetProperty("reason").GetString());
        Assert.Equal(HttpStatusCode.Conflict, (await Approve(bob, mine.ApprovalId)).StatusCode);
        Assert.Equal("Pending", await fixture.StateAsync(other.ApprovalId));

        await fixture.SuspendAsync("tool.suspend", "payments");
        await Eventually.True(async () => await fixture.StateAsync(other.ApprovalId) == "Cancelled", "the tool's approval to be cancelled");
    }

    [Fact]
    public async Task A_denial_is_final_and_names_who_denied_it()
    {
        var bob = fixture.Approvals.Http(await fixture.AddApproverAsync("bob", "finance"));
        var carol = fixture.Approvals.Http(await fixture.AddApproverAsync("carol", "finance"));
        var request = await fixture.RequestApprovalAsync(ApprovalsFixture.Request(quorum: 2));

        Assert.Equal(HttpStatusCode.OK, (await Approve(bob, request.ApprovalId)).StatusCode);
        var denied = await Deny(carol, request.ApprovalId, "customer already refunded");
        Assert.Equal(HttpStatusCode.OK, denied.StatusCode);
        Assert.Equal("denied", (await Json(denied)).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, (await Deny(carol, request.ApprovalId, "customer already refunded")).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await Approve(carol, request.ApprovalId)).StatusCode);

        var outcomes = await fixture.WaitForOutcomesAsync(request.ApprovalId, o => o.Any(x => x.Type == nameof(ApprovalDenied)), "the denial");
        var body = outcomes.First(o => o.Type == nameof(ApprovalDenied)).Body;
        Assert.Equal("carol", body.GetProperty("deniedBy").GetString());
        Assert.Equal("customer already refunded", body.GetProperty("comment").GetString());
    }

    [Fact]
    public async Task Escalation_lets_the_second_group_approve_after_the_delay()
    {
        var olga = fixture.Approvals.Http(await fixture.AddApproverAsync("olga", "ops-leads"));
        var request = await fixture.RequestApprovalAsync(ApprovalsFixture.Request(escalationGroup: "ops-leads", escalationDelay: TimeSpan.FromSeconds(1)));

        Assert.Equal(HttpStatusCode.Forbidden, (await Approve(olga, request.ApprovalId)).StatusCode);
        await Eventually.True(async () => await fixture.StateAsync(request.ApprovalId) == "Escalated", "the escalation");
        var list = await Json(await olga.GetAsync("/api/approvals"));
        Assert.Contains(list.GetProperty("approvals").EnumerateArray(), a => a.GetProperty("approvalId").GetGuid() == request.ApprovalId);

        var response = await Approve(olga, request.ApprovalId);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("granted", (await Json(response)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Show_gives_redacted_arguments_a_diff_the_rule_the_story_and_the_time_left()
    {
        var bob = fixture.Approvals.Http(await fixture.AddApproverAsync("bob", "finance"));
        var request = await fixture.RequestApprovalAsync(ApprovalsFixture.Request(
            arguments: new { method = "PUT", url = "https://crm.example.com/limits/42?api_key=s3cret&view=full", headers = new { Authorization = "Bearer xyz" },
                body = new { daily = 5000, password = "hunter2" } },
            current: new { daily = 1000, password = "old" }, runId: "run-shown"));
        // The audit is append-only and hash-chained: seed it through its own writer.
        await using var database = NpgsqlDataSource.Create(fixture.ConnectionString);
        var audit = new AuditStore(database, AuditRedactor.Default, Options.Create(new AuditOptions()), TimeProvider.System, NullLogger<AuditStore>.Instance);
        await audit.AppendAsync([AuditSeed.Decided("a-1", "run-shown", "support-bot", "ticketing", Decision.Allowed, DateTimeOffset.UtcNow)], CancellationToken.None);

        var list = await Json(await bob.GetAsync("/api/approvals"));
        Assert.Equal("bob", list.GetProperty("approver").GetString());
        Assert.Single(list.GetProperty("approvals").EnumerateArray());

        var view = await Json(await bob.GetAsync($"/api/approvals/{request.ApprovalId}"));
        var text = view.GetRawText();
        Assert.DoesNotContain("s3cret", text);
        Assert.DoesNotContain("hunter2", text);
        Assert.DoesNotContain("xyz", text);
        Assert.Contains("view=full", text);
        var change = Assert.Single(view.GetProperty("changes").EnumerateArray());
        Assert.Equal("$.daily", change.GetProperty("path").GetString());
        Assert.Equal("1000", change.GetProperty("before").GetString());
        Assert.Equal("5000", change.GetProperty("after").GetString());
        Assert.Equal("refunds-over-500", view.GetProperty("ruleId").GetString());
        Assert.InRange(view.GetProperty("secondsLeft").GetInt64(), 500, 600);
        Assert.True(view.GetProperty("canVote").GetBoolean());
        var story = view.GetProperty("story");
        Assert.Equal("run-shown", story.GetProperty("runId").GetString());
        // The run so far: the seeded decision, and this approval's own request (the audit records it too).
        var action = Assert.Single(story.GetProperty("actions").EnumerateArray(), a => a.GetProperty("actionId").GetString() == "a-1");
        Assert.Equal("allowed", action.GetProperty("decision").GetString());
        Assert.Equal("ActionDecided", Assert.Single(action.GetProperty("steps").EnumerateArray()).GetProperty("eventType").GetString());
    }
}
