using System.Text;
using System.Text.Json;
using AgentBus.Client;
using AgentBus.Contracts;
using AgentBus.IntegrationTests.Audit;
using AgentBus.IntegrationTests.Infrastructure;
using AgentBus.ServiceDefaults.Messaging;
using RabbitMQ.Client;

namespace AgentBus.IntegrationTests.Policy;

/// <summary>
/// Issue 17, "Resolve the unknown": `agentbus actions resolve` on the real pipeline (two policy
/// instances, projections, RabbitMQ, PostgreSQL). The payments executor is stopped, and the test plays
/// the copy that died mid-call: it records the claim as outcome_unknown and publishes the
/// executor_lost outcome as that tool's executor, as ExecuteToolConsumer does.
/// </summary>
[Collection(PolicyCollection.Name)]
public sealed class ResolveOutcomeTests(PolicyFixture fixture) : IAsyncLifetime
{
    const string Agent = "support-bot";

    public async Task InitializeAsync()
    {
        await fixture.ResetAllAsync();
        await fixture.StopExecutorAsync("payments");
    }

    public Task DisposeAsync() => Task.CompletedTask;

    object Refund(decimal amount) => new { method = "POST", url = new Uri(fixture.SandboxUrl, "/payments/refunds").ToString(), body = new { orderId = "ORD-17", amountUsd = amount } };

    [Fact]
    public async Task A_resolved_succeeded_action_reads_everywhere_as_an_executor_reported_success()
    {
        await using var support = await fixture.ConnectAgentAsync(Agent);
        var actionId = await UnknownAsync(support, "run-resolve-ok");
        Assert.Equal([actionId], await UnknownListAsync());
        Assert.Equal((0m, 0.01m), await BudgetAsync("run-resolve-ok"));

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var told = support.WaitAsync(actionId, deadline.Token);
        var (exit, output) = await ResolveAsync(actionId, "--succeeded", "--evidence", "Refund RF-17 is in the payments console, 5.00 USD",
            "--result", """{"status": 201, "body": {"refundId": "RF-17", "amountUsd": 5}}""", "--external-reference", "RF-17", "--operator", "alice");
        Assert.True(exit == 0, output);
        Assert.Contains("resolved as succeeded by alice", output);
        Assert.Contains("The policy service recorded it", output);

        // The agent hears it from the policy service, as a success with the result the system of record shows.
        var heard = (await told).Succeeded!;
        Assert.Equal(("alice", "RF-17", 201), (heard.ResolvedBy, heard.ExternalReference, heard.Result.GetProperty("status").GetInt32()));

        // policy_actions' first outcome is now an ActionSucceeded with a Result: what a replay, or a rollback, reads.
        var stored = (await fixture.QueryAsync<(string Outcome, string Type, string Payload, string ResolvedBy)>(
            "SELECT outcome, outcome_type, outcome_payload::text, resolved_by FROM policy_actions WHERE action_id = @actionId", new { actionId })).Single();
        Assert.Equal(("succeeded", nameof(ActionSucceeded), "alice"), (stored.Outcome, stored.Type, stored.ResolvedBy));
        var payload = JsonSerializer.Deserialize<ActionSucceeded>(stored.Payload, WireJson.Options)!;
        Assert.Equal((actionId, Agent, "payments", "RF-17"), (payload.ActionId, payload.AgentId, payload.Tool, payload.ExternalReference));
        Assert.Equal("RF-17", payload.Result.GetProperty("body").GetProperty("refundId").GetString());

        // The estimate the unknown outcome settled stays spent; nothing is held.
        Assert.Equal((0m, 0.01m), await BudgetAsync("run-resolve-ok"));
        Assert.Equal(["settled:0.010000"], await fixture.QueryAsync<string>(
            "SELECT status || ':' || amount_usd FROM cost_ledger WHERE action_id = @actionId", new { actionId }));

        // The audit: who and why, and the run counted as one success.
        await Eventually.True(async () => await fixture.CountAsync("""
            SELECT count(*) FROM audit_events WHERE action_id = @actionId AND event_type = 'ActionSucceeded' AND actor = 'alice'
               AND reason_code = 'resolved' AND payload::jsonb->>'evidence' LIKE 'Refund RF-17%'
            """, new { actionId }) == 1, "the resolved outcome in the audit");
        await Eventually.True(async () => await fixture.CountAsync("""
            SELECT count(*) FROM audit_events WHERE action_id = @actionId AND event_type = 'OperatorActionTaken' AND outcome = 'action.resolve'
               AND actor = 'alice' AND payload::jsonb->>'reason' LIKE 'Refund RF-17%'
            """, new { actionId }) == 1, "the operator's action in the audit");
        await Eventually.True(async () => (await fixture.QueryAsync<string>(
                "SELECT actions_succeeded || '/' || actions_failed || '/' || actions_outcome_unknown FROM run_summaries WHERE run_id = 'run-resolve-ok'"))
            .SequenceEqual(["1/0/0"]), "the run summary: one success, no failure, nothing unknown");

        Assert.Empty(await UnknownListAsync());
        var (_, story) = await AuditFixture.CliAsync("runs", "show", "run-resolve-ok", "--postgres", fixture.ConnectionString);
        Assert.Contains("resolved by alice: succeeded (Refund RF-17", story);
    }

    [Fact]
    public async Task A_resolved_failed_action_gives_its_estimate_back_and_the_agent_hears_it_did_not_happen()
    {
        await using var support = await fixture.ConnectAgentAsync(Agent);
        var actionId = await UnknownAsync(support, "run-resolve-failed");

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var told = support.WaitAsync(actionId, deadline.Token);
        var (exit, output) = await ResolveAsync(actionId, "--failed", "--evidence", "No refund for ORD-17 in the payments console", "--operator", "bob");
        Assert.True(exit == 0, output);

        var heard = (await told).Failed!;
        Assert.Equal((ExecutionErrorCodes.ResolvedFailed, false, "bob"), (heard.ErrorCode, heard.OutcomeUnknown, heard.ResolvedBy));
        Assert.Equal((0m, 0m), await BudgetAsync("run-resolve-failed"));
        Assert.Equal(["released:0.000000"], await fixture.QueryAsync<string>(
            "SELECT status || ':' || amount_usd FROM cost_ledger WHERE action_id = @actionId", new { actionId }));
        Assert.Equal(["failed:ActionFailed"], await fixture.QueryAsync<string>(
            "SELECT outcome || ':' || outcome_type FROM policy_actions WHERE action_id = @actionId", new { actionId }));
        await Eventually.True(async () => (await fixture.QueryAsync<string>(
                "SELECT actions_succeeded || '/' || actions_failed || '/' || actions_outcome_unknown FROM run_summaries WHERE run_id = 'run-resolve-failed'"))
            .SequenceEqual(["0/1/0"]), "the run summary: one failure, nothing unknown");
        Assert.Empty(await UnknownListAsync());
    }

    [Fact]
    public async Task Two_terminals_resolving_at_once_and_a_second_run_make_one_resolution()
    {
        await using var support = await fixture.ConnectAgentAsync(Agent);
        var actionId = await UnknownAsync(support, "run-resolve-race");

        var runs = await Task.WhenAll(
            ResolveAsync(actionId, "--succeeded", "--evidence", "seen in the console", "--operator", "alice"),
            ResolveAsync(actionId, "--failed", "--evidence", "not in the console", "--operator", "bob"));
        Assert.Equal([0, 1], runs.Select(r => r.Exit).Order());
        var loser = runs.Single(r => r.Exit == 1).Output;
        Assert.Contains("already resolved by", loser);
        var winner = runs.Single(r => r.Exit == 0).Output.Contains("by alice") ? "alice" : "bob";

        // The same command again, after it completed: refused, naming the earlier resolution.
        var again = winner == "alice"
            ? await ResolveAsync(actionId, "--succeeded", "--evidence", "seen in the console", "--operator", "alice")
            : await ResolveAsync(actionId, "--failed", "--evidence", "not in the console", "--operator", "bob");
        Assert.Equal(1, again.Exit);
        Assert.Contains($"already resolved by {winner}", again.Output);

        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @actionId AND event_type = 'OperatorActionTaken'", new { actionId }) == 1,
            "one operator action in the audit");
        await Task.Delay(500);
        Assert.Equal(1, await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @actionId AND event_type IN ('ActionSucceeded', 'ActionFailed') AND actor = @winner",
            new { actionId, winner }));
        Assert.Equal(0, await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @actionId AND actor = @loser", new { actionId, loser = winner == "alice" ? "bob" : "alice" }));
        Assert.Equal(winner == "alice" ? (0m, 0.01m) : (0m, 0m), await BudgetAsync("run-resolve-race"));
    }

    [Fact]
    public async Task A_run_interrupted_after_recording_is_completed_by_running_it_again()
    {
        await using var support = await fixture.ConnectAgentAsync(Agent);
        var actionId = await UnknownAsync(support, "run-resolve-resume");
        // What a run killed between its commit and its publish leaves: the finding, and nothing sent.
        await using (var connection = new Npgsql.NpgsqlConnection(fixture.ConnectionString))
        {
            await connection.OpenAsync();
            await using var insert = new Npgsql.NpgsqlCommand("""
                INSERT INTO execution_resolutions (action_id, state, resolved_by, evidence, result, resolved_at)
                VALUES (@id, 'succeeded', 'carol', 'ticket OPS-9', '{"status": 200}', date_trunc('milliseconds', now()))
                """, connection);
            insert.Parameters.AddWithValue("id", actionId);
            await insert.ExecuteNonQueryAsync();
        }
        // Still listed, as resolved but not recorded by the policy service: whoever looks next runs it again.
        Assert.Equal([actionId], await UnknownListAsync());
        var (_, listed) = await AuditFixture.CliAsync("actions", "unknown", "--postgres", fixture.ConnectionString);
        Assert.Contains("resolved succeeded by carol", listed);
        Assert.Contains("run the same actions resolve again", listed);

        var (exit, output) = await ResolveAsync(actionId, "--succeeded", "--evidence", "ticket OPS-9", "--operator", "carol");
        Assert.True(exit == 0, output);
        Assert.Contains("recorded earlier; sent again", output);
        Assert.Equal(["succeeded:carol"], await fixture.QueryAsync<string>(
            "SELECT outcome || ':' || resolved_by FROM policy_actions WHERE action_id = @actionId", new { actionId }));
        Assert.Empty(await UnknownListAsync());
    }

    [Fact]
    public async Task A_run_that_cannot_reach_the_broker_keeps_the_finding_says_so_and_the_next_run_sends_it()
    {
        await using var support = await fixture.ConnectAgentAsync(Agent);
        var actionId = await UnknownAsync(support, "run-resolve-offline");

        var (offline, said) = await AuditFixture.CliAsync("actions", "resolve", actionId, "--failed", "--evidence", "no refund in the console",
            "--operator", "dave", "--postgres", fixture.ConnectionString, "--rabbitmq-host", "127.0.0.1", "--rabbitmq-port", "1",
            "--vhost", fixture.VirtualHost, "--secrets-dir", fixture.Secrets.Directory);
        Assert.True(offline == 1, said);
        Assert.Contains("recorded, but it could not be sent", said);
        Assert.Equal(["outcome_unknown"], await fixture.QueryAsync<string>("SELECT outcome FROM policy_actions WHERE action_id = @actionId", new { actionId }));
        Assert.Equal([actionId], await UnknownListAsync());

        var (exit, output) = await ResolveAsync(actionId, "--failed", "--evidence", "no refund in the console", "--operator", "dave");
        Assert.True(exit == 0, output);
        Assert.Equal(["failed:dave"], await fixture.QueryAsync<string>(
            "SELECT outcome || ':' || resolved_by FROM policy_actions WHERE action_id = @actionId", new { actionId }));
        Assert.Equal((0m, 0m), await BudgetAsync("run-resolve-offline"));
        Assert.Empty(await UnknownListAsync());
    }

    [Fact]
    public async Task Given_a_clusters_nodes_the_first_of_them_down_the_resolution_reaches_the_broker_through_the_next()
    {
        await using var support = await fixture.ConnectAgentAsync(Agent);
        var actionId = await UnknownAsync(support, "run-resolve-cluster");

        var (exit, output) = await AuditFixture.CliAsync("actions", "resolve", actionId, "--failed", "--evidence", "no refund in the console",
            "--operator", "dave", "--postgres", fixture.ConnectionString,
            "--rabbitmq-endpoints", $"127.0.0.1:1,{fixture.Servers.RabbitHost}:{fixture.Servers.RabbitPort}",
            "--vhost", fixture.VirtualHost, "--secrets-dir", fixture.Secrets.Directory);

        Assert.True(exit == 0, output);
        Assert.Equal(["failed:dave"], await fixture.QueryAsync<string>(
            "SELECT outcome || ':' || resolved_by FROM policy_actions WHERE action_id = @actionId", new { actionId }));
    }

    [Fact]
    public async Task What_cannot_be_resolved_is_refused_with_a_reason_and_changes_nothing()
    {
        await using var support = await fixture.ConnectAgentAsync(Agent);
        var actionId = await UnknownAsync(support, "run-resolve-refused");
        await fixture.CountAsync("""
            WITH done AS (
                INSERT INTO execution_claims (action_id, tool, run_id, agent_id, arguments_hash, state, executor, claim_token, finished_at, outcome)
                VALUES ('act-done', 'payments', 'run-resolve-refused', 'support-bot', 'h', 'succeeded', 'exec-1', gen_random_uuid(), now(), '{}')
                RETURNING 1)
            SELECT count(*) FROM done
            """);

        async Task Refused(int code, string expected, params string[] args)
        {
            var (exit, output) = await ResolveAsync(args);
            Assert.True(exit == code, $"{string.Join(' ', args)} -> {exit}: {output}");
            Assert.Contains(expected, output);
        }

        await Refused(2, "There is no action", "no-such-action", "--failed", "--evidence", "x", "--operator", "alice");
        await Refused(2, "is not outcome-unknown: its executor recorded it as succeeded", "act-done", "--failed", "--evidence", "x", "--operator", "alice");
        await Refused(2, "Say which", actionId, "--evidence", "x", "--operator", "alice");
        await Refused(2, "Say which", actionId, "--succeeded", "--failed", "--evidence", "x", "--operator", "alice");
        await Refused(2, "--evidence is required", actionId, "--failed", "--evidence", "  ", "--operator", "alice");
        await Refused(2, "--evidence is required", actionId, "--failed", "--operator", "alice");
        await Refused(2, "--evidence must not contain control characters", actionId, "--failed", "--evidence", "ok\u001b[2Jgone", "--operator", "alice");
        await Refused(2, "--evidence", actionId, "--failed", "--evidence", new string('e', 5000), "--operator", "alice");
        await Refused(2, "--result is not valid JSON", actionId, "--succeeded", "--evidence", "x", "--result", "{status: 200", "--operator", "alice");
        await Refused(2, "--result must be a JSON object", actionId, "--succeeded", "--evidence", "x", "--result", "[200]", "--operator", "alice");
        await Refused(2, "--result is for --succeeded only", actionId, "--failed", "--evidence", "x", "--result", "{}", "--operator", "alice");
        await Refused(2, "--operator must not contain control characters", actionId, "--failed", "--evidence", "x", "--operator", "al\nice");

        Assert.Equal([actionId], await UnknownListAsync());
        Assert.Equal(["outcome_unknown"], await fixture.QueryAsync<string>("SELECT outcome FROM policy_actions WHERE action_id = @actionId", new { actionId }));
    }

    [Fact]
    public async Task A_resolution_from_anyone_but_the_operators_is_refused_by_the_broker_or_ignored_by_the_policy_service()
    {
        await using var support = await fixture.ConnectAgentAsync(Agent);
        var actionId = await UnknownAsync(support, "run-resolve-forged");
        var forged = new OperatorActionTaken("mallory", OperatorActionNames.ResolveAction, actionId, "trust me",
            JsonSerializer.SerializeToElement(new ActionResolution(actionId, false, null, null), WireJson.Options), DateTimeOffset.UtcNow);
        var body = JsonSerializer.Serialize(forged, WireJson.Options);

        // Agents, executors and the policy service itself may not write the operator-actions exchange.
        var probe = new BrokerProbe(fixture);
        foreach (var user in new[] { Agent, AgentBus.Operations.Broker.BrokerTopology.ExecutorUser("payments"), AgentBus.Operations.Broker.BrokerTopology.PolicyUser })
            Assert.False((await probe.PublishAsync(user, WireNames.OperatorActionsExchange, OperatorActionNames.ResolveAction, body)).Allowed, user);

        // The broker's administrator can put it straight into the policy service's queue: its user_id is not the operators'.
        var admin = new ConnectionFactory
        {
            HostName = fixture.Servers.RabbitHost, Port = fixture.Servers.RabbitPort, VirtualHost = fixture.VirtualHost,
            UserName = fixture.Servers.AdminUser, Password = fixture.Servers.AdminPassword,
        };
        await using (var connection = await admin.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true)))
        {
            var properties = new BasicProperties
            {
                ContentType = WireNames.ContentType, Type = nameof(OperatorActionTaken), MessageId = Guid.NewGuid().ToString(),
                UserId = fixture.Servers.AdminUser, DeliveryMode = DeliveryModes.Persistent,
                Headers = new Dictionary<string, object?> { ["MT-MessageType"] = "urn:message:AgentBus.Contracts:" + nameof(OperatorActionTaken) },
            };
            await channel.BasicPublishAsync(WireNames.PolicyResolutionsQueue, "", true, properties, Encoding.UTF8.GetBytes(body));
        }
        await Eventually.True(async () => await fixture.QueueDepthAsync(WireNames.PolicyResolutionsQueue) == 0, "the forgery consumed");
        await Task.Delay(1000);

        Assert.Equal(["outcome_unknown:"], await fixture.QueryAsync<string>(
            "SELECT outcome || ':' || coalesce(resolved_by, '') FROM policy_actions WHERE action_id = @actionId", new { actionId }));
        Assert.Equal((0m, 0.01m), await BudgetAsync("run-resolve-forged"));
        Assert.Equal(0, await fixture.QueueDepthAsync(WireNames.PolicyResolutionsQueue + "_error"));
    }

    [Fact]
    public async Task A_duplicate_that_heard_the_unknown_outcome_hears_the_resolution_too()
    {
        await using var support = await fixture.ConnectAgentAsync(Agent);
        var duplicates = new List<string>();
        var actionId = await UnknownAsync(support, "run-resolve-dup", duplicates);
        var duplicateId = Assert.Single(duplicates);

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var told = support.WaitAsync(duplicateId, deadline.Token);
        var (exit, output) = await ResolveAsync(actionId, "--succeeded", "--evidence", "RF-18 in the console", "--operator", "alice");
        Assert.True(exit == 0, output);

        var heard = (await told).Succeeded!;
        Assert.Equal((duplicateId, "alice", 0m), (heard.ActionId, heard.ResolvedBy, heard.CostUsd));
        Assert.True(heard.Result.GetProperty("resolvedByOperator").GetBoolean());
        Assert.Equal(["succeeded:" + duplicateId], await fixture.QueryAsync<string>(
            "SELECT outcome || ':' || (outcome_payload->>'actionId') FROM policy_actions WHERE action_id = @duplicateId", new { duplicateId }));
        // One estimate, spent once, for the one side effect.
        Assert.Equal((0m, 0.01m), await BudgetAsync("run-resolve-dup"));
    }

    /// <summary>
    /// Proposes a refund, then plays the payments copy that claimed it and died: the action's outcome is unknown.
    /// With <paramref name="duplicates"/>, the same refund is proposed again first: a duplicate that is sent the unknown outcome too.
    /// </summary>
    async Task<string> UnknownAsync(AgentClient agent, string runId, List<string>? duplicates = null)
    {
        var actionId = await agent.ProposeAsync("payments", Refund(5), runId);
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM cost_ledger WHERE action_id = @actionId AND status = 'reserved'", new { actionId }) == 1, "the refund allowed and reserved");
        if (duplicates is not null)
        {
            duplicates.Add(await agent.ProposeAsync("payments", Refund(5), runId));
            await Eventually.True(async () => await fixture.CountAsync("SELECT count(*) FROM policy_actions WHERE duplicate_of = @actionId", new { actionId }) == 1,
                "the duplicate recorded against the first");
        }

        var startedAt = DateTimeOffset.UtcNow.AddSeconds(-3);
        var lost = new ActionFailed(actionId, runId, Agent, "payments", ExecutionErrorCodes.ExecutorLost,
            "The executor copy payments-1 stopped while calling the tool.", true, 3000, 1, DateTimeOffset.UtcNow, Executor: "payments-1", StartedAt: startedAt);
        var json = JsonSerializer.Serialize(lost, WireJson.Options);
        await using (var connection = new Npgsql.NpgsqlConnection(fixture.ConnectionString))
        {
            await connection.OpenAsync();
            await using var claim = new Npgsql.NpgsqlCommand("""
                INSERT INTO execution_claims (action_id, tool, run_id, agent_id, arguments_hash, state, executor, claim_token, claimed_at, finished_at,
                                              attempts, outcome_type, outcome, late_outcome)
                VALUES (@id, 'payments', @run, @agent, 'h', 'outcome_unknown', 'payments-1', gen_random_uuid(), @started, now(), 1, 'ActionFailed',
                        CAST(@json AS json), NULL)
                """, connection);
            claim.Parameters.AddWithValue("id", actionId);
            claim.Parameters.AddWithValue("run", runId);
            claim.Parameters.AddWithValue("agent", Agent);
            claim.Parameters.AddWithValue("started", startedAt);
            claim.Parameters.AddWithValue("json", json);
            await claim.ExecuteNonQueryAsync();
        }

        var executor = AgentBus.Operations.Broker.BrokerTopology.ExecutorUser("payments");
        await using (var connection = await fixture.ConnectionFactoryFor(executor).CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true)))
        {
            var properties = new BasicProperties
            {
                ContentType = WireNames.ContentType, Type = nameof(ActionFailed), MessageId = MessageIds.ActionOutcome(Agent, actionId, "payments").ToString(),
                UserId = executor, DeliveryMode = DeliveryModes.Persistent,
                Headers = new Dictionary<string, object?> { ["MT-MessageType"] = "urn:message:AgentBus.Contracts:" + nameof(ActionFailed) },
            };
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await channel.BasicPublishAsync(WireNames.ActionFailedExchange, Agent, false, properties, Encoding.UTF8.GetBytes(json), timeout.Token);
        }

        using (var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
            foreach (var id in (duplicates ?? []).Prepend(actionId))
                Assert.True((await agent.WaitAsync(id, wait.Token)).Failed!.OutcomeUnknown);
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM policy_actions WHERE (action_id = @actionId OR duplicate_of = @actionId) AND outcome = 'outcome_unknown'", new { actionId })
            == 1 + (duplicates?.Count ?? 0), "the policy service recorded the unknown outcome");
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @actionId AND outcome = 'outcome_unknown'", new { actionId }) == 1,
            "the audit recorded the unknown outcome");
        return actionId;
    }

    Task<(int Exit, string Output)> ResolveAsync(params string[] args) => AuditFixture.CliAsync(
    [
        "actions", "resolve", .. args, "--postgres", fixture.ConnectionString, "--rabbitmq-host", fixture.Servers.RabbitHost,
        "--rabbitmq-port", fixture.Servers.RabbitPort.ToString(), "--vhost", fixture.VirtualHost, "--secrets-dir", fixture.Secrets.Directory,
    ]);

    async Task<IReadOnlyList<string>> UnknownListAsync()
    {
        var (exit, output) = await AuditFixture.CliAsync("actions", "unknown", "--postgres", fixture.ConnectionString, "--json");
        Assert.True(exit == 0, output);
        return JsonDocument.Parse(output).RootElement.EnumerateArray().Select(a => a.GetProperty("actionId").GetString()!).ToList();
    }

    async Task<(decimal Reserved, decimal Spent)> BudgetAsync(string runId) =>
        (await fixture.QueryAsync<(decimal, decimal)>(
            "SELECT reserved_usd, spent_usd FROM budget_usage WHERE agent_id = @Agent AND period = @Period", new { Agent, Period = $"run:{runId}" })).Single();
}
