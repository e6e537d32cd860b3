using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AgentBus.Audit.Stories;
using AgentBus.Client;
using AgentBus.Contracts;
using AgentBus.IntegrationTests.Infrastructure;
using AgentBus.ServiceDefaults.Messaging;
using Npgsql;
using RabbitMQ.Client;

namespace AgentBus.IntegrationTests.Approvals;

/// <summary>
/// Approvals end to end on the real broker and database: an agent proposes through policy, people
/// answer through the approvals service's API, policy re-checks and uses the grant, the executor calls
/// the sandbox system of record, whose own record of calls is the proof of "executed exactly once".
/// </summary>
[Collection(ApprovalsCollection.Name)]
public sealed class ApprovalPipelineTests(ApprovalsFixture fixture) : IAsyncLifetime
{
    readonly List<AgentClient> _agents = [];

    public Task InitializeAsync() => fixture.ResetAllAsync();

    public async Task DisposeAsync()
    {
        foreach (var agent in _agents)
            await agent.DisposeAsync();
    }

    object Refund(decimal amount, string order = "ORD-42") =>
        new { method = "POST", url = new Uri(fixture.SandboxUrl, "/payments/refunds").ToString(), body = new { orderId = order, amountUsd = amount } };

    async Task<AgentClient> AgentAsync(string agentId)
    {
        var agent = await fixture.ConnectAgentAsync(agentId);
        _agents.Add(agent);
        return agent;
    }

    /// <summary>Proposes a refund and returns once the approval saga holds the approval it needs.</summary>
    async Task<(AgentClient Agent, string ActionId, Guid ApprovalId, ActionDecided First)> ProposeAsync(string agentId, decimal amount, string runId,
        AgentClient? agent = null)
    {
        agent ??= await AgentAsync(agentId);
        var actionId = await agent.ProposeAsync("payments", Refund(amount), runId, intent: "Refund a double charge.");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var first = await agent.DecisionAsync(actionId, timeout.Token);
        Assert.True(first.Decision == Decision.ApprovalRequired, $"expected approval_required, got {first.Decision} ({first.ReasonCode}: {first.Reason})");
        Assert.NotNull(first.ApprovalId);
        var approvalId = Guid.Parse(first.ApprovalId!);
        Assert.Equal(MessageIds.Approval(agentId, actionId), approvalId);
        await Eventually.True(async () => await fixture.StateAsync(approvalId) is "Pending", $"approval {approvalId} pending in the saga");
        return (agent, actionId, approvalId, first);
    }

    static async Task<ActionResult> FinishedAsync(AgentClient agent, string actionId, int seconds = 30)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        return await agent.WaitAsync(actionId, timeout.Token);
    }

    async Task<HttpClient> ApproverAsync(string name, params string[] groups) => fixture.Approvals.Http(await fixture.AddApproverAsync(name, groups));

    static Task<HttpResponseMessage> Approve(HttpClient http, Guid id, string? comment = null) =>
        http.PostAsJsonAsync($"/api/approvals/{id}/approve", new { comment });

    static Task<HttpResponseMessage> Deny(HttpClient http, Guid id, string? comment = null) =>
        http.PostAsJsonAsync($"/api/approvals/{id}/deny", new { comment });

    static async Task<JsonElement> Json(HttpResponseMessage response) => await response.Content.ReadFromJsonAsync<JsonElement>();

    int Executions(string actionId) => fixture.SandboxCalls.Calls.Count(c => c.ActionId == actionId);

    /// <summary>No call now, and still none a moment later (the pipeline had every chance to run it).</summary>
    async Task AssertNeverExecutedAsync(string actionId)
    {
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Equal(0, Executions(actionId));
        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM execution_claims WHERE action_id = @actionId", new { actionId }));
    }

    /// <summary>Exactly one call reached the system of record for this action, and one second later still one.</summary>
    async Task AssertExecutedOnceAsync(string actionId)
    {
        await Eventually.True(() => Task.FromResult(Executions(actionId) >= 1), $"action {actionId} to reach the sandbox");
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Equal(1, Executions(actionId));
    }

    Task<long> ReservedAsync(string actionId) =>
        fixture.CountAsync("SELECT count(*) FROM cost_ledger WHERE action_id = @actionId AND status = 'reserved'", new { actionId });

    [Fact]
    public async Task Two_approvers_approving_at_once_with_quorum_1_execute_the_action_exactly_once()
    {
        var (agent, actionId, approvalId, first) = await ProposeAsync("support-bot", 900, "run-race");
        Assert.Equal(("refunds-over-500", ReasonCodes.ApprovalRequired), (first.RuleId, first.ReasonCode));
        var bob = await ApproverAsync("bob", "finance");
        var carol = await ApproverAsync("carol", "finance");
        Assert.Equal(0, Executions(actionId));
        await CaptureCommandsAsync();

        var responses = await Task.WhenAll(Approve(bob, approvalId), Approve(carol, approvalId));

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.Conflict], responses.Select(r => r.StatusCode).Order());
        var winner = (await Json(responses.Single(r => r.IsSuccessStatusCode))).GetProperty("approvers").EnumerateArray().Single().GetString();
        var result = await FinishedAsync(agent, actionId);
        Assert.Equal((Decision.Allowed, ReasonCodes.ApprovalGranted), (result.Decision.Decision, result.Decision.ReasonCode));
        Assert.Equal(approvalId.ToString("D"), result.Decision.ApprovalId);
        Assert.Contains(winner!, result.Decision.Reason);
        Assert.NotNull(result.Succeeded);
        await AssertExecutedOnceAsync(actionId);
        Assert.Equal("Consumed", await fixture.StateAsync(approvalId));

        // The one signed command names the approval it rests on.
        var command = await CapturedCommandAsync(actionId);
        Assert.Equal(approvalId.ToString("D"), command.Authorization.ApprovalId);
    }

    [Fact]
    public async Task Quorum_2_needs_two_different_people_and_the_same_person_twice_does_not_count()
    {
        var (agent, actionId, approvalId, _) = await ProposeAsync("intern-bot", 50, "run-quorum");
        var bob = await ApproverAsync("bob", "finance");
        var carol = await ApproverAsync("carol", "finance");

        var once = await Approve(bob, approvalId, "checked the order");
        Assert.Equal(("pending", 200), ((await Json(once)).GetProperty("status").GetString(), (int)once.StatusCode));
        var twice = await Json(await Approve(bob, approvalId, "checked the order"));
        Assert.Equal(("repeated", "pending"), (twice.GetProperty("outcome").GetString(), twice.GetProperty("status").GetString()));
        await AssertNeverExecutedAsync(actionId);
        using (var soon = new CancellationTokenSource(TimeSpan.FromMilliseconds(300)))
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => agent.WaitAsync(actionId, soon.Token));

        Assert.Equal(HttpStatusCode.OK, (await Approve(carol, approvalId)).StatusCode);

        var result = await FinishedAsync(agent, actionId);
        Assert.Equal(Decision.Allowed, result.Decision.Decision);
        Assert.Contains("bob", result.Decision.Reason);
        Assert.Contains("carol", result.Decision.Reason);
        Assert.NotNull(result.Succeeded);
        await AssertExecutedOnceAsync(actionId);
    }

    [Fact]
    public async Task The_requester_and_the_owning_team_are_refused_with_403_and_someone_else_can_approve()
    {
        var (agent, actionId, approvalId, _) = await ProposeAsync("support-bot", 700, "run-duties");
        var alice = await ApproverAsync("alice", "finance");     // the agent's owner: she asked for it
        var sam = await ApproverAsync("sam", "finance");         // on team support, which owns the agent
        var eve = await ApproverAsync("eve", "marketing");
        var bob = await ApproverAsync("bob", "finance");

        var view = await Json(await bob.GetAsync($"/api/approvals/{approvalId}"));
        Assert.Equal(("alice", "support"), (view.GetProperty("requestedBy").GetString(), view.GetProperty("agentTeam").GetString()));
        Assert.False((await Json(await alice.GetAsync($"/api/approvals/{approvalId}"))).GetProperty("canVote").GetBoolean());

        foreach (var (who, code) in new[] { (alice, ApprovalReasonCodes.SeparationOfDuties), (sam, ApprovalReasonCodes.SeparationOfDuties), (eve, ApprovalReasonCodes.NotInGroup) })
        {
            var refused = await Approve(who, approvalId);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Equal(code, (await Json(refused)).GetProperty("reasonCode").GetString());
        }
        await AssertNeverExecutedAsync(actionId);
        Assert.Equal("Pending", await fixture.StateAsync(approvalId));

        Assert.Equal(HttpStatusCode.OK, (await Approve(bob, approvalId)).StatusCode);
        Assert.NotNull((await FinishedAsync(agent, actionId)).Succeeded);
        await AssertExecutedOnceAsync(actionId);
    }

    [Fact]
    public async Task The_agent_hears_approval_required_only_once_the_approvals_api_answers_for_that_approval()
    {
        // Issue 11: the approvals API answered 404 for a moment after the agent had been told approval_required.
        var token = await fixture.AddApproverAsync("bob", "finance");
        await fixture.StopApprovalsAsync();
        var agent = await AgentAsync("support-bot");
        var waiting = await agent.ProposeAsync("payments", Refund(700), "run-opened-first");

        // No approvals service, nobody to look the approval up: the agent is not told of it yet.
        using (var early = new CancellationTokenSource(TimeSpan.FromSeconds(2)))
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => agent.DecisionAsync(waiting, early.Token));

        using var bob = fixture.Approvals.Http(token);
        foreach (var actionId in new[] { waiting }.Concat(await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
                     agent.ProposeAsync("payments", Refund(600 + i, $"ORD-{i}"), "run-opened-first")))))
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var first = await agent.DecisionAsync(actionId, timeout.Token);
            Assert.Equal(Decision.ApprovalRequired, first.Decision);
            // At once, no retry: the approval the agent was told of is there.
            using var response = await bob.GetAsync($"/api/approvals/{first.ApprovalId}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("pending", (await Json(response)).GetProperty("status").GetString());
        }
    }

    [Fact]
    public async Task An_approver_with_the_agents_own_name_cannot_approve_its_action_even_when_the_agent_has_an_owner()
    {
        // Issue 11: an approver account named support-bot in the approving group approved support-bot's refund.
        var (agent, actionId, approvalId, _) = await ProposeAsync("support-bot", 700, "run-self-approval");
        var token = await fixture.AddApproverAsync("support-bot", "finance");

        // The approvals service knows the policy's agents: the agent's name does not even sign in.
        using (var signedIn = fixture.Approvals.Http(token))
            Assert.Equal(HttpStatusCode.Unauthorized, (await Approve(signedIn, approvalId)).StatusCode);

        // Without the agent list, separation of duties still refuses the approval's own agent.
        await using (var blind = fixture.ExtraApprovals(new Dictionary<string, string?> { ["Approvals:PolicyFile"] = "" }))
        {
            using var self = blind.Http(token);
            var refused = await Approve(self, approvalId);
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Equal(ApprovalReasonCodes.SeparationOfDuties, (await Json(refused)).GetProperty("reasonCode").GetString());
        }
        await AssertNeverExecutedAsync(actionId);
        Assert.Equal("Pending", await fixture.StateAsync(approvalId));

        var bob = await ApproverAsync("bob", "finance");
        Assert.Equal(HttpStatusCode.OK, (await Approve(bob, approvalId)).StatusCode);
        Assert.NotNull((await FinishedAsync(agent, actionId)).Succeeded);
        await AssertExecutedOnceAsync(actionId);
    }

    [Fact]
    public async Task An_approval_after_expiry_is_refused_the_agent_hears_approval_expired_and_nothing_runs()
    {
        var (agent, actionId, approvalId, _) = await ProposeAsync("hasty-bot", 900, "run-expiry");
        Assert.Equal(1, await ReservedAsync(actionId));
        var bob = await ApproverAsync("bob", "finance");

        await Eventually.True(async () => await fixture.StateAsync(approvalId) == "Expired", "the sweeper to expire the approval");
        var late = await Approve(bob, approvalId);

        Assert.Equal(HttpStatusCode.Conflict, late.StatusCode);
        Assert.Equal(ApprovalReasonCodes.Expired, (await Json(late)).GetProperty("reasonCode").GetString());
        var result = await FinishedAsync(agent, actionId);
        Assert.Equal((Decision.Denied, ReasonCodes.ApprovalExpired), (result.Decision.Decision, result.Decision.ReasonCode));
        Assert.Contains("never approves", result.Decision.Reason);
        await AssertNeverExecutedAsync(actionId);
        Assert.Equal(0, await ReservedAsync(actionId));
        Assert.Equal(1, await fixture.CountAsync("SELECT count(*) FROM cost_ledger WHERE action_id = @actionId AND status = 'released'", new { actionId }));
    }

    [Fact]
    public async Task A_denial_reaches_the_agent_with_who_and_why_and_the_same_action_can_be_asked_again()
    {
        var (agent, actionId, approvalId, _) = await ProposeAsync("intern-bot", 80, "run-deny");
        var bob = await ApproverAsync("bob", "finance");
        var carol = await ApproverAsync("carol", "finance");

        Assert.Equal(HttpStatusCode.OK, (await Approve(bob, approvalId)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Deny(carol, approvalId, "The customer was already refunded by phone.")).StatusCode);

        var result = await FinishedAsync(agent, actionId);
        Assert.Equal((Decision.Denied, ReasonCodes.ApprovalDenied), (result.Decision.Decision, result.Decision.ReasonCode));
        Assert.Contains("carol", result.Decision.Reason);
        Assert.Contains("already refunded by phone", result.Decision.Reason);
        await AssertNeverExecutedAsync(actionId);
        Assert.Equal(0, await ReservedAsync(actionId));

        // Denied claims nothing: the same refund proposed again asks people again, it is not a duplicate.
        var again = await ProposeAsync("intern-bot", 80, "run-deny", agent);
        Assert.Equal(ReasonCodes.ApprovalRequired, again.First.ReasonCode);
        Assert.NotEqual(approvalId, again.ApprovalId);
    }

    [Fact]
    public async Task Arguments_changed_after_approval_are_never_executed()
    {
        var bob = await ApproverAsync("bob", "finance");

        // 1. The approval's record is altered after the request: what the saga hands over no longer
        //    hashes to what the agent proposed, so policy refuses it.
        var (agent, actionId, approvalId, _) = await ProposeAsync("support-bot", 900, "run-tamper");
        var changed = JsonSerializer.Serialize(Refund(9000));
        await fixture.QueryAsync<int>("""
            UPDATE approval_sagas SET data = jsonb_set(data, '{argumentsJson}', to_jsonb(@changed::text)) WHERE correlation_id = @approvalId
            RETURNING 1
            """, new { changed, approvalId });
        Assert.Equal(HttpStatusCode.OK, (await Approve(bob, approvalId)).StatusCode);
        var refused = await FinishedAsync(agent, actionId);
        Assert.Equal((Decision.Denied, ReasonCodes.ApprovalRefused), (refused.Decision.Decision, refused.Decision.ReasonCode));
        await AssertNeverExecutedAsync(actionId);
        Assert.Equal(0, await ReservedAsync(actionId));

        // 2. The signed command for an approved action, altered in flight: the executor refuses it.
        await CaptureCommandsAsync();
        var approved = await ProposeAsync("support-bot", 800, "run-tamper", agent);
        Assert.Equal(HttpStatusCode.OK, (await Approve(bob, approved.ApprovalId)).StatusCode);
        Assert.NotNull((await FinishedAsync(agent, approved.ActionId)).Succeeded);
        var command = await CapturedCommandAsync(approved.ActionId);
        Assert.Equal(approved.ApprovalId.ToString("D"), command.Authorization.ApprovalId);

        await fixture.PublishAsPolicyAsync(command with { Arguments = JsonSerializer.SerializeToElement(Refund(8000)) });
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @ActionId AND event_type = 'ActionFailed' AND reason_code = 'arguments_changed'",
            new { approved.ActionId }) == 1, "the executor's arguments_changed refusal in the audit");
        var call = Assert.Single(fixture.SandboxCalls.Calls, c => c.ActionId == approved.ActionId);
        Assert.Equal(800m, call.Body!.Value.GetProperty("amountUsd").GetDecimal());

        // 3. The agent re-sends the approved action id with other arguments: refused outright.
        await agent.ProposeAsync("payments", Refund(8000), "run-tamper", actionId: approved.ActionId);
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
            Assert.Equal(ReasonCodes.ActionIdReused, (await agent.DecisionAsync(approved.ActionId, timeout.Token)).ReasonCode);
        await Task.Delay(500);
        Assert.Single(fixture.SandboxCalls.Calls, c => c.ActionId == approved.ActionId);
    }

    const string CaptureQueue = "test.execute-tool.payments";

    /// <summary>A copy of every ExecuteTool for payments, as the executor receives it (purged by the reset before each test).</summary>
    async Task CaptureCommandsAsync()
    {
        await fixture.Management.PutQueueAsync(fixture.VirtualHost, CaptureQueue, CancellationToken.None);
        await fixture.Management.BindQueueAsync(fixture.VirtualHost, WireNames.ExecuteToolExchange, CaptureQueue, "payments", CancellationToken.None);
    }

    async Task<ExecuteTool> CapturedCommandAsync(string actionId)
    {
        const string queue = CaptureQueue;
        await using var connection = await new ConnectionFactory
        {
            HostName = fixture.Servers.RabbitHost, Port = fixture.Servers.RabbitPort, VirtualHost = fixture.VirtualHost,
            UserName = fixture.Servers.AdminUser, Password = fixture.Servers.AdminPassword,
        }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        return await Eventually.Get(async () =>
        {
            while (await channel.BasicGetAsync(queue, autoAck: true) is { } delivery)
            {
                var command = JsonSerializer.Deserialize<ExecuteTool>(delivery.Body.Span, WireJson.Options)!;
                if (command.ActionId == actionId)
                    return command;
            }
            return null;
        }, c => c is not null, $"the ExecuteTool for {actionId}") ?? throw new InvalidOperationException();
    }

    [Fact]
    public async Task A_replayed_grant_and_a_replayed_consumption_never_execute_twice()
    {
        var (agent, actionId, approvalId, _) = await ProposeAsync("support-bot", 650, "run-replay");
        var bob = await ApproverAsync("bob", "finance");
        Assert.Equal(HttpStatusCode.OK, (await Approve(bob, approvalId)).StatusCode);
        Assert.NotNull((await FinishedAsync(agent, actionId)).Succeeded);
        await AssertExecutedOnceAsync(actionId);

        var outcomes = await fixture.WaitForOutcomesAsync(approvalId,
            o => o.Any(x => x.Type == nameof(ApprovalGranted)) && o.Any(x => x.Type == nameof(ApprovalConsumed)), "the grant and its consumption");
        var granted = outcomes.First(o => o.Type == nameof(ApprovalGranted)).Body.Deserialize<ApprovalGranted>(WireJson.Options)!;
        var consumed = outcomes.First(o => o.Type == nameof(ApprovalConsumed)).Body.Deserialize<ApprovalConsumed>(WireJson.Options)!;

        // The same grant again (redelivered, and replayed under a new message id), the same consumption
        // answer again, and the grant asked for by a second consumption.
        await fixture.PublishAsApprovalsAsync(granted, MessageIds.For(approvalId.ToString("D"), nameof(ApprovalGranted)));
        await fixture.PublishAsApprovalsAsync(granted, Guid.NewGuid());
        await fixture.PublishAsApprovalsAsync(consumed, Guid.NewGuid());
        await fixture.PublishAsApprovalsAsync(consumed with { ConsumptionId = Guid.NewGuid() }, Guid.NewGuid());
        await fixture.ConsumeAsync(new ConsumeApproval(approvalId, Guid.NewGuid(), actionId, consumed.RunId, "support-bot", "payments",
            consumed.ArgumentsHash, DateTimeOffset.UtcNow));

        await fixture.WaitForOutcomesAsync(approvalId, o => o.Any(x => x.Type == nameof(ApprovalConsumptionRefused)), "the saga refusing the second consumption");
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(1, Executions(actionId));
        Assert.Equal(1, await fixture.CountAsync("SELECT count(*) FROM execution_claims WHERE action_id = @actionId", new { actionId }));
        Assert.Equal("Consumed", await fixture.StateAsync(approvalId));
        Assert.Equal("authorized", (await fixture.QueryAsync<string>("SELECT status FROM policy_approvals WHERE approval_id = @approvalId", new { approvalId })).Single());
    }

    [Fact]
    public async Task An_approval_pending_when_the_approvals_service_is_killed_still_works_after_a_restart()
    {
        await fixture.StopApprovalsAsync();
        var environment = fixture.ApprovalsEnvironment();
        var token = await fixture.AddApproverAsync("bob", "finance");
        string firstAction, secondAction;
        Guid firstApproval, secondApproval;
        AgentClient agent;

        await using (var service = await ChildServices.StartAsync("AgentBus.Approvals", "agentbus-approvals", environment))
        {
            (agent, firstAction, firstApproval, _) = await ProposeAsync("support-bot", 900, "run-crash");
            await service.KillAsync();                                      // kill -9, while the approval is pending
            Assert.False(service.Running);
        }

        // While no approvals service runs, another action asks for approval: its request waits in the queue,
        // and the agent hears approval_required once the restarted service has taken it up.
        secondAction = await agent.ProposeAsync("payments", Refund(750, "ORD-43"), "run-crash");
        secondApproval = MessageIds.Approval("support-bot", secondAction);

        await using var restarted = await ChildServices.StartAsync("AgentBus.Approvals", "agentbus-approvals", environment);
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            Assert.Equal(secondApproval, Guid.Parse((await agent.DecisionAsync(secondAction, timeout.Token)).ApprovalId!));
        await Eventually.True(async () => await fixture.StateAsync(secondApproval) == "Pending", "the queued request to be taken up after the restart");
        using var bob = new HttpClient { BaseAddress = restarted.Url!, Timeout = TimeSpan.FromSeconds(60) };
        bob.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);

        foreach (var approval in new[] { firstApproval, secondApproval })
        {
            var response = await Approve(bob, approval);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("granted", (await Json(response)).GetProperty("status").GetString());
        }
        Assert.NotNull((await FinishedAsync(agent, firstAction)).Succeeded);
        Assert.NotNull((await FinishedAsync(agent, secondAction)).Succeeded);
        await AssertExecutedOnceAsync(firstAction);
        await AssertExecutedOnceAsync(secondAction);
    }

    [Fact]
    public async Task Suspending_the_agent_while_pending_cancels_the_approval_and_the_agent_hears_why()
    {
        var (agent, actionId, approvalId, _) = await ProposeAsync("support-bot", 900, "run-suspend");
        var bob = await ApproverAsync("bob", "finance");

        Assert.Equal(0, await fixture.OperatorAsync("agents", "suspend", "support-bot", "oncall", "runaway refunds"));

        await Eventually.True(async () => await fixture.StateAsync(approvalId) == "Cancelled", "the approval to be cancelled");
        var result = await FinishedAsync(agent, actionId);
        Assert.Equal((Decision.Denied, ReasonCodes.ApprovalCancelled), (result.Decision.Decision, result.Decision.ReasonCode));
        Assert.Contains("runaway refunds", result.Decision.Reason);
        Assert.Contains("oncall", result.Decision.Reason);
        var late = await Approve(bob, approvalId);
        Assert.Equal(HttpStatusCode.Conflict, late.StatusCode);
        Assert.Equal(ApprovalReasonCodes.Cancelled, (await Json(late)).GetProperty("reasonCode").GetString());
        await AssertNeverExecutedAsync(actionId);
        Assert.Equal(0, await ReservedAsync(actionId));
    }

    [Fact]
    public async Task A_grant_goes_back_through_policy_a_kill_switch_or_a_lower_budget_since_the_request_refuses_it()
    {
        var bob = await ApproverAsync("bob", "finance");

        // Suspended without the approvals service hearing of it (a row written straight into the kill
        // switch): the approval is granted, and policy's re-check refuses it.
        var (agent, actionId, approvalId, _) = await ProposeAsync("support-bot", 900, "run-recheck");
        await fixture.QueryAsync<int>("""
            INSERT INTO policy_suspensions (kind, name, suspended_by, reason, suspended_at) VALUES ('tool', 'payments', 'test', 'maintenance', now())
            RETURNING 1
            """);
        Assert.Equal(HttpStatusCode.OK, (await Approve(bob, approvalId)).StatusCode);
        var suspended = await FinishedAsync(agent, actionId);
        Assert.Equal((Decision.Denied, ReasonCodes.ToolSuspended), (suspended.Decision.Decision, suspended.Decision.ReasonCode));
        Assert.StartsWith("Approved by bob, but policy refuses it now", suspended.Decision.Reason);
        Assert.Equal(approvalId.ToString("D"), suspended.Decision.ApprovalId);
        await AssertNeverExecutedAsync(actionId);
        await fixture.QueryAsync<int>("DELETE FROM policy_suspensions RETURNING 1");
        await fixture.RefreshSuspensionsAsync();

        // The budget was lowered while people decided: the reservation no longer fits.
        var pending = await ProposeAsync("support-bot", 900, "run-recheck-2", agent);
        await fixture.UsePolicyAsync(ApprovalsFixture.PolicyYaml.Replace("perRunUsd: 1", "perRunUsd: 0.001", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.OK, (await Approve(bob, pending.ApprovalId)).StatusCode);
        var broke = await FinishedAsync(agent, pending.ActionId);
        Assert.Equal((Decision.Denied, ReasonCodes.BudgetExceeded), (broke.Decision.Decision, broke.Decision.ReasonCode));
        await AssertNeverExecutedAsync(pending.ActionId);
        Assert.Equal(0, await ReservedAsync(pending.ActionId));
    }

    [Fact]
    public async Task The_audit_and_the_run_story_show_who_approved_and_when_and_the_approvals_service_serves_the_same_story()
    {
        var (agent, actionId, approvalId, _) = await ProposeAsync("support-bot", 900, "run-story");
        var bob = await ApproverAsync("bob", "finance");
        var before = DateTimeOffset.UtcNow;
        Assert.Equal(HttpStatusCode.OK, (await Approve(bob, approvalId, "double charge confirmed")).StatusCode);
        Assert.NotNull((await FinishedAsync(agent, actionId)).Succeeded);

        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @actionId AND event_type = 'ActionSucceeded'", new { actionId }) == 1, "the outcome in the audit");
        var vote = (await fixture.QueryAsync<(string Actor, string Outcome, DateTime At)>(
            "SELECT actor, outcome, occurred_at FROM audit_events WHERE action_id = @actionId AND event_type = 'ApprovalVoteRecorded'", new { actionId })).Single();
        Assert.Equal(("bob", "approved"), (vote.Actor, vote.Outcome));
        Assert.InRange(new DateTimeOffset(DateTime.SpecifyKind(vote.At, DateTimeKind.Utc)), before.AddSeconds(-1), DateTimeOffset.UtcNow);
        var types = await fixture.QueryAsync<string>("SELECT event_type FROM audit_events WHERE action_id = @actionId", new { actionId });
        Assert.Superset(new HashSet<string> { "ActionProposed", "ActionDecided", "ApprovalRequested", "ApprovalVoteRecorded", "ApprovalGranted",
            "ApprovalConsumed", "ExecuteTool", "ExecutionStarted", "ActionSucceeded" }, types.ToHashSet());

        await using var database = NpgsqlDataSource.Create(fixture.ConnectionString);
        var story = (await new RunStoryQuery(database).GetAsync("run-story"))!;
        var action = Assert.Single(story.Actions);
        Assert.Equal("succeeded", action.Status);
        Assert.Contains(action.Approvals, a => a is { EventType: "ApprovalVoteRecorded", Answer: "approved", By: "bob" });
        // The chain of custody: proposed, asked, answered, granted, finally allowed, authorized, run.
        var stages = action.Steps.Select(s => s.EventType == "ActionDecided" ? $"ActionDecided:{s.Outcome}" : s.EventType).ToList();
        Assert.True(stages.IndexOf("ActionDecided:approval_required") < stages.IndexOf("ApprovalVoteRecorded"));
        Assert.True(stages.IndexOf("ApprovalGranted") < stages.IndexOf("ActionDecided:allowed"));
        Assert.True(stages.IndexOf("ActionDecided:allowed") < stages.IndexOf("ExecuteTool"));
        Assert.Equal((1, 0, 1), (story.Totals.Allowed, story.Totals.PendingApproval, story.Totals.Succeeded));
        var summary = (await fixture.QueryAsync<(int Allowed, int Pending)>(
            "SELECT actions_allowed, actions_pending FROM run_summaries WHERE run_id = 'run-story'")).Single();
        Assert.Equal((1, 0), summary);

        // The approvals service serves this same story (what `agentbus runs show run-story --json` prints).
        var served = await Json(await bob.GetAsync($"/api/approvals/{approvalId}/story"));
        var expected = JsonSerializer.SerializeToElement(story, new JsonSerializerOptions(JsonSerializerDefaults.Web));
        Assert.True(JsonElement.DeepEquals(expected, served), $"served:{Environment.NewLine}{served}{Environment.NewLine}expected:{Environment.NewLine}{expected}");
        var view = await Json(await bob.GetAsync($"/api/approvals/{approvalId}"));
        Assert.Equal("run-story", view.GetProperty("story").GetProperty("runId").GetString());
    }
}
