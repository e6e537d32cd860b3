using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.IntegrationTests.Infrastructure;
using AgentBus.Policy;
using AgentBus.Policy.Engine;
using AgentBus.Policy.Proposals;
using AgentBus.Policy.State;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AgentBus.IntegrationTests.Policy;

/// <summary>
/// The stateful steps against the real database, one reason code per row: each case proposes a
/// sequence and expects the decision of the last one. Time is passed in, as the policy host does.
/// </summary>
[Collection(PolicyCollection.Name)]
public sealed class AdmissionStoreTests(PolicyFixture fixture) : IAsyncLifetime
{
    const string Yaml = """
        agents: [{ id: a }, { id: b }]
        tools:
          - { name: t, unitCostUsd: 0.10 }
          - { name: u, unitCostUsd: 0 }
        grants:
          - { id: a-t, agent: a, tool: t }
          - { id: a-u, agent: a, tool: u }
          - { id: b-u, agent: b, tool: u }
        limits:
          agents:
            a: { callsPerMinute: 3, run: { maxToolCalls: 4, maxRetries: 1, maxDuration: 1h } }
          tools:
            u: { callsPerMinute: 5 }
        budgets:
          agents:
            a: { perDayUsd: 0.25, perRunUsd: 10 }
        """;

    static readonly PolicySnapshot Policy = PolicyLoader.Parse(Yaml, "admission.yaml").Policy!;
    // Real time (the policy hosts' sweepers run alongside and would clear state from the past),
    // five seconds into a minute so the sliding window cases know where they stand.
    static readonly DateTimeOffset Start = Minute(DateTimeOffset.UtcNow).AddMinutes(1).AddSeconds(5);

    static DateTimeOffset Minute(DateTimeOffset t) => new(t.Year, t.Month, t.Day, t.Hour, t.Minute, 0, TimeSpan.Zero);

    NpgsqlDataSource _database = null!;
    AdmissionStore _store = null!;

    public async Task InitializeAsync()
    {
        await fixture.ResetAsync();
        // A few connections are enough to interleave transactions; the shared server has 100 in all.
        _database = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(fixture.ConnectionString) { MaxPoolSize = 6 }.ConnectionString);
        _store = new AdmissionStore(_database, Options.Create(new PolicyOptions { File = "x" }));
    }

    public async Task DisposeAsync() => await _database.DisposeAsync();

    /// <summary>(agent, tool, run, arguments, idempotency key, seconds after start).</summary>
    public sealed record Step(string Agent, string Tool, string Run = "r1", string Arguments = "{}", string? Key = null, int At = 0, string? ActionId = null);

    public static TheoryData<string, Step[], string, string?> Cases() => new()
    {
        { "admitted", [new("a", "u")], ReasonCodes.Allowed, "a-u" },
        { "agent rate", [new("a", "u", Arguments: "{\"n\":1}"), new("a", "u", Arguments: "{\"n\":2}"), new("a", "u", Arguments: "{\"n\":3}"), new("a", "u", Arguments: "{\"n\":4}")],
            ReasonCodes.RateLimited, "limits.agents.a.callsPerMinute" },
        { "agent rate slides over the minute", [new("a", "u", Arguments: "{\"n\":1}"), new("a", "u", Arguments: "{\"n\":2}"), new("a", "u", Arguments: "{\"n\":3}"),
            new("a", "u", Arguments: "{\"n\":4}", At: 60)], ReasonCodes.RateLimited, "limits.agents.a.callsPerMinute" },
        { "agent rate frees up after two minutes", [new("a", "u", Arguments: "{\"n\":1}"), new("a", "u", Arguments: "{\"n\":2}"), new("a", "u", Arguments: "{\"n\":3}"),
            new("a", "u", Arguments: "{\"n\":4}", At: 120)], ReasonCodes.Allowed, "a-u" },
        { "tool rate across agents", [.. Enumerable.Range(0, 5).Select(i => new Step("b", "u", Run: $"r{i}", Arguments: $"{{\"n\":{i}}}")), new("b", "u", Run: "r9", Arguments: "{\"n\":9}")],
            ReasonCodes.RateLimited, "limits.tools.u.callsPerMinute" },
        { "run tool calls", [.. Enumerable.Range(0, 4).Select(i => new Step("a", "u", Arguments: $"{{\"n\":{i}}}", At: i * 60)), new("a", "u", Arguments: "{\"n\":9}", At: 300)],
            ReasonCodes.RunToolCallsExceeded, "limits.agents.a.run.maxToolCalls" },
        { "run retries", [new("a", "u", Key: "k1"), new("a", "u", Key: "k2", At: 60), new("a", "u", Key: "k3", At: 120)],
            ReasonCodes.RunRetriesExceeded, "limits.agents.a.run.maxRetries" },
        { "run wall-clock", [new("a", "u", Arguments: "{\"n\":1}"), new("a", "u", Arguments: "{\"n\":2}", At: 3601)],
            ReasonCodes.RunTimeExceeded, "limits.agents.a.run.maxDuration" },
        { "day budget", [new("a", "t", Run: "r1"), new("a", "t", Run: "r2", At: 60), new("a", "t", Run: "r3", At: 120)],
            ReasonCodes.BudgetExceeded, "budgets.agents.a.perDayUsd" },
        { "duplicate by key", [new("a", "u", Key: "same"), new("a", "u", Key: "same", Arguments: "{\"other\":true}", At: 1)],
            ReasonCodes.DuplicateAction, "idempotency" },
        { "duplicate by run, tool and arguments", [new("a", "u", Arguments: "{\"x\":[1,2]}"), new("a", "u", Arguments: "{ \"x\" : [1, 2] }", At: 1)],
            ReasonCodes.DuplicateAction, "idempotency" },
        { "same arguments after the window is a retry", [new("a", "u"), new("a", "u", At: 601)], ReasonCodes.Allowed, "a-u" },
        { "an action id reused for something else", [new("a", "u", ActionId: "0193e3c2-6f1a-7c3b-9d4e-000000000001"),
            new("a", "u", Arguments: "{\"n\":2}", ActionId: "0193e3c2-6f1a-7c3b-9d4e-000000000001")], ReasonCodes.ActionIdReused, "idempotency" },
        { "an action id sent again gets its first decision", [new("a", "u", ActionId: "0193e3c2-6f1a-7c3b-9d4e-000000000002"),
            new("a", "u", ActionId: "0193e3c2-6f1a-7c3b-9d4e-000000000002", At: 1)], ReasonCodes.Allowed, "a-u" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Stateful_steps_decide_with_the_expected_reason_and_rule(string because, Step[] steps, string reasonCode, string? ruleId)
    {
        PolicyDecision last = null!;
        foreach (var step in steps)
            last = (await ProposeAsync(step)).Decision;

        Assert.True(reasonCode == last.ReasonCode, $"{because}: expected {reasonCode}, got {last.ReasonCode} ({last.Reason})");
        Assert.Equal(ruleId, last.RuleId);
    }

    async Task<Admission> ProposeAsync(Step step)
    {
        var proposal = new ActionProposed(step.ActionId ?? Guid.CreateVersion7().ToString(), step.Run, step.Agent, step.Tool,
            JsonDocument.Parse(step.Arguments).RootElement.Clone(), step.Key);
        var now = Start.AddSeconds(step.At);
        var decision = PolicyEvaluator.Evaluate(proposal, step.Agent, Policy, EvaluationState.At(now));
        return await _store.AdmitAsync(proposal, decision, Policy.Version, now, CancellationToken.None);
    }

    sealed record Settled(bool Recorded, IReadOnlyList<string> WaitingDuplicates, bool ReplayWaits);

    /// <summary>policy_record_outcome as policy_settle_outcomes calls it: who still waits for this outcome.</summary>
    async Task<Settled> RecordOutcomeAsync(string actionId, string tool, string outcome, string type, string payload, decimal cost, CancellationToken ct)
    {
        await using var connection = await _database.OpenConnectionAsync(ct);
        var rows = (await connection.QueryAsync<(bool Recorded, string? ActionId, bool Self)>(
            "SELECT recorded, waiting_action_id, waiting_is_self FROM policy_record_outcome(@actionId, @tool, @outcome, @type, CAST(@payload AS jsonb), @cost, now())",
            new { actionId, tool, outcome, type, payload, cost })).ToList();
        return new(rows.Any(r => r.Recorded), rows.Where(r => r.ActionId is not null && !r.Self).Select(r => r.ActionId!).ToList(), rows.Any(r => r.Self));
    }

    [Fact]
    public async Task A_replay_that_came_before_the_outcome_is_recorded_gets_the_outcome_when_it_is_settled()
    {
        var action = Guid.CreateVersion7().ToString();
        Assert.Equal(AdmissionKind.New, (await ProposeAsync(new("a", "u", ActionId: action))).Kind);

        // The outcome already reached the agent (and was taken by a client that no longer waited), but
        // is not recorded here yet: the replay finds none to send.
        var replay = await ProposeAsync(new("a", "u", ActionId: action, At: 1));
        Assert.Equal(AdmissionKind.Replay, replay.Kind);
        Assert.Null(replay.FirstOutcome);

        var settled = await RecordOutcomeAsync(action, "u", "succeeded", nameof(ActionSucceeded), "{\"actionId\":\"x\"}", 0m, CancellationToken.None);
        Assert.True(settled.Recorded);
        Assert.True(settled.ReplayWaits);
        Assert.Empty(settled.WaitingDuplicates);

        // Sent once: a later replay gets the recorded outcome itself, and nothing waits any more.
        Assert.NotNull((await ProposeAsync(new("a", "u", ActionId: action, At: 2))).FirstOutcome);
        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM policy_actions WHERE action_id = @action AND replay_waiting", new { action }));
    }

    [Fact]
    public async Task An_outcome_no_replay_waited_for_is_not_sent_again_and_a_denied_replay_waits_for_nothing()
    {
        var action = Guid.CreateVersion7().ToString();
        await ProposeAsync(new("a", "u", ActionId: action));

        var settled = await RecordOutcomeAsync(action, "u", "succeeded", nameof(ActionSucceeded), "{}", 0m, CancellationToken.None);
        Assert.True(settled.Recorded);
        Assert.False(settled.ReplayWaits);

        var denied = Guid.CreateVersion7().ToString();
        await ProposeAsync(new("b", "t", ActionId: denied));
        await ProposeAsync(new("b", "t", ActionId: denied, At: 1));
        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM policy_actions WHERE action_id = @denied AND replay_waiting", new { denied }));
    }

    [Fact]
    public async Task Only_a_proposal_admitted_as_allowed_keeps_its_command_for_the_audit_and_a_repeat_keeps_no_second()
    {
        async Task<Admission> ProposeWithCommandAsync(string actionId, string run, int at)
        {
            // A NUL escape is valid JSON that jsonb refuses: the command is kept all the same.
            var proposal = new ActionProposed(actionId, run, "a", "t", JsonDocument.Parse("""{"note": "NUL \u0000 here"}""").RootElement.Clone());
            var now = Start.AddSeconds(at);
            var decision = PolicyEvaluator.Evaluate(proposal, "a", Policy, EvaluationState.At(now));
            var command = new ExecuteTool(actionId, run, "a", "t", proposal.Arguments, "sha256:00", null, now,
                new ToolAuthorization("k", null, now.AddMinutes(5), "sig"));
            return await _store.AdmitAsync(proposal, decision, Policy.Version, now, CancellationToken.None,
                PendingAuthorization.Of(command, "proposal-" + actionId));
        }

        var first = Guid.CreateVersion7().ToString();
        Assert.Equal(AdmissionKind.New, (await ProposeWithCommandAsync(first, "r1", 0)).Kind);
        Assert.Equal(AdmissionKind.Replay, (await ProposeWithCommandAsync(first, "r1", 1)).Kind);
        await ProposeWithCommandAsync(Guid.CreateVersion7().ToString(), "r2", 60);
        // The third is over the day's budget: refused, so nothing will run and nothing is kept.
        var third = Guid.CreateVersion7().ToString();
        var refused = await ProposeWithCommandAsync(third, "r3", 120);
        Assert.Equal(ReasonCodes.BudgetExceeded, refused.Decision.ReasonCode);

        var kept = (await fixture.QueryAsync<(string ActionId, Guid MessageId, string CorrelationId)>(
            "SELECT action_id, message_id, correlation_id FROM policy_pending_authorizations ORDER BY authorized_at")).ToList();
        Assert.Equal(2, kept.Count);
        Assert.Equal((first, MessageIds.ExecuteTool("a", first), "proposal-" + first), kept[0]);
        var command = JsonSerializer.Deserialize<ExecuteTool>(
            await fixture.QueryAsync<string>("SELECT command FROM policy_pending_authorizations WHERE action_id = @first", new { first }) is [var text] ? text : "",
            AgentBus.ServiceDefaults.Messaging.WireJson.Options)!;
        Assert.Equal("NUL \0 here", command.Arguments.GetProperty("note").GetString());
        Assert.DoesNotContain(kept, k => k.ActionId == third);
    }

    [Fact]
    public async Task The_sweeper_reports_how_many_signed_commands_wait_for_the_audit_and_how_long_the_oldest_has()
    {
        await using (var connection = await _database.OpenConnectionAsync())
            await connection.ExecuteAsync("""
                SELECT policy_keep_authorization('waits-long', gen_random_uuid(), NULL, '{}', now() - interval '90 seconds');
                SELECT policy_keep_authorization('waits-short', gen_random_uuid(), NULL, '{}', now() - interval '10 seconds');
                """);
        var sweeper = new StateSweeper(new CostLedger(_database, TimeProvider.System), _database, TimeProvider.System,
            Options.Create(new PolicyOptions { File = "x" }), Microsoft.Extensions.Logging.Abstractions.NullLogger<StateSweeper>.Instance);

        // The policy hosts' own sweepers set the same gauges; they count the same table.
        var (count, oldest) = await Eventually.Get(async () =>
        {
            await sweeper.SweepAsync(CancellationToken.None);
            return ObserveAuthorizationsWaiting();
        }, seen => seen.Count == 2, "the sweeper's count of waiting commands");
        Assert.InRange(oldest, 89, 150);
    }

    static (long Count, double OldestSeconds) ObserveAuthorizationsWaiting()
    {
        long count = -1;
        double oldest = -1;
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name.StartsWith("agentbus.audit.authorizations_waiting", StringComparison.Ordinal))
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => count = value);
        listener.SetMeasurementEventCallback<double>((_, value, _, _) => oldest = value);
        listener.Start();
        listener.RecordObservableInstruments();
        return (count, oldest);
    }

    [Fact]
    public async Task A_denied_proposal_consumes_no_rate_run_or_budget()
    {
        await ProposeAsync(new("a", "t", Run: "r1"));
        await ProposeAsync(new("a", "t", Run: "r2", At: 60));
        var denied = await ProposeAsync(new("a", "t", Run: "r3", At: 120));
        Assert.Equal(ReasonCodes.BudgetExceeded, denied.Decision.ReasonCode);

        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM policy_runs WHERE run_id = 'r3'"));
        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM cost_ledger WHERE run_id = 'r3'"));
        Assert.Equal(0, await fixture.CountAsync("SELECT coalesce(sum(calls), 0) FROM policy_rate_windows WHERE window_start = @w",
            new { w = Minute(Start.AddMinutes(2)) }));
    }

    [Fact]
    public async Task A_live_suspension_is_enforced_inside_the_admission_transaction()
    {
        await using (var connection = await _database.OpenConnectionAsync())
        await using (var insert = new NpgsqlCommand(
            "INSERT INTO policy_suspensions (kind, name, suspended_by, suspended_at) VALUES ('agent', 'a', 'test', now())", connection))
            await insert.ExecuteNonQueryAsync();

        var decision = (await ProposeAsync(new("a", "u"))).Decision;
        Assert.Equal((ReasonCodes.AgentSuspended, "kill-switch"), (decision.ReasonCode, decision.RuleId));
    }

    [Fact]
    public async Task Concurrent_admissions_never_overspend_a_budget()
    {
        // 0.25 a day at 0.10 a call: two fit, whatever the interleaving.
        var results = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => Task.Run(() => ProposeAsync(new("a", "t", Run: $"c{i}", At: 0)))));
        Assert.Equal(2, results.Count(r => r.Decision.Decision == Decision.Allowed));
        Assert.Equal(1, await fixture.CountAsync("SELECT count(*) FROM budget_usage WHERE period LIKE 'day:%' AND reserved_usd = 0.2"));
    }
    /// <summary>Holds the lock every admission batch queues on (migration 0770), as a busy batch of another instance would.</summary>
    async Task<NpgsqlTransaction> HoldAdmissionLockAsync(NpgsqlConnection connection)
    {
        var tx = await connection.BeginTransactionAsync();
        await connection.ExecuteAsync("SELECT pg_advisory_xact_lock(4712847060137833843)", transaction: tx);
        return tx;
    }

    /// <summary>Until a backend of this test's database waits for the given kind of lock (advisory, transactionid).</summary>
    async Task WaitForLockWaitAsync(string waitEvent)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(20); DateTime.UtcNow < deadline; await Task.Delay(20))
            if (await fixture.CountAsync("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event = @waitEvent",
                    new { waitEvent }) > 0)
                return;
        throw new TimeoutException($"No admission came to wait on a {waitEvent} lock.");
    }

    [Fact]
    public async Task Proposals_that_wait_together_are_admitted_in_one_transaction_with_the_answers_they_would_get_one_by_one()
    {
        var batchSizes = new System.Collections.Concurrent.ConcurrentBag<int>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "agentbus.group_commit.batch_size")
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<int>((_, size, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag is { Key: "kind", Value: "admission" })
                    batchSizes.Add(size);
        });
        listener.Start();

        await using var other = await _database.OpenConnectionAsync();
        var held = await HoldAdmissionLockAsync(other);
        var first = ProposeAsync(new("a", "u", Arguments: "{\"n\":0}"));
        await WaitForLockWaitAsync("advisory");
        // Agent a may make 3 calls a minute: of the seven that queue behind the first, the first two in arrival order fit.
        var queued = Enumerable.Range(1, 7).Select(i => ProposeAsync(new("a", "u", Arguments: $"{{\"n\":{i}}}"))).ToList();
        await held.CommitAsync();

        var answers = await Task.WhenAll([first, .. queued]);
        Assert.Equal([ReasonCodes.Allowed, ReasonCodes.Allowed, ReasonCodes.Allowed, .. Enumerable.Repeat(ReasonCodes.RateLimited, 5)],
            answers.Select(answer => answer.Decision.ReasonCode));
        Assert.Contains(7, batchSizes);
        // A refusal in the batch undid its own writes only.
        Assert.Equal(3, await fixture.CountAsync("SELECT coalesce(sum(calls), 0) FROM policy_rate_windows WHERE scope = 'agent' AND subject = 'a'"));
        Assert.Equal(3, await fixture.CountAsync("SELECT count(*) FROM policy_actions WHERE agent_id = 'a' AND decision = 'allowed'"));
    }

    [Fact]
    public async Task A_batch_that_fails_as_a_whole_is_admitted_one_proposal_at_a_time_and_counts_nothing_twice()
    {
        var taken = Guid.CreateVersion7().ToString();
        await using var other = await _database.OpenConnectionAsync();
        var held = await HoldAdmissionLockAsync(other);
        var first = ProposeAsync(new("a", "u", Arguments: "{\"n\":0}"));
        await WaitForLockWaitAsync("advisory");

        // Another instance decides the action id "taken" and has not committed yet: the batch holding
        // the same id waits for it, then fails on the key, and everything it did is undone.
        await using var racing = await _database.OpenConnectionAsync();
        var decided = await racing.BeginTransactionAsync();
        await racing.ExecuteAsync("""
            INSERT INTO policy_actions (action_id, agent_id, run_id, tool, arguments_hash, decision, reason_code, reason, rule_id, estimated_cost_usd, decided_at)
            VALUES (@taken, 'b', 'r1', 'u', 'elsewhere', 'allowed', 'allowed', 'decided by another instance', 'b-u', 0, now())
            """, new { taken }, decided);
        var queued = new[]
        {
            ProposeAsync(new("b", "u", Run: "r2", Arguments: "{\"n\":1}")),
            ProposeAsync(new("a", "u", Arguments: "{\"n\":2}", ActionId: taken)),
            ProposeAsync(new("b", "u", Run: "r3", Arguments: "{\"n\":3}")),
        };
        await held.CommitAsync();
        await WaitForLockWaitAsync("transactionid");
        await decided.CommitAsync();

        var answers = await Task.WhenAll([first, .. queued]);
        Assert.Equal(ReasonCodes.Allowed, answers[0].Decision.ReasonCode);
        Assert.Equal((AdmissionKind.New, ReasonCodes.Allowed), (answers[1].Kind, answers[1].Decision.ReasonCode));
        Assert.Equal((AdmissionKind.Replay, ReasonCodes.ActionIdReused), (answers[2].Kind, answers[2].Decision.ReasonCode));
        Assert.Equal((AdmissionKind.New, ReasonCodes.Allowed), (answers[3].Kind, answers[3].Decision.ReasonCode));
        // Tool u counted the three admitted actions once each: nothing of the failed batch stayed.
        Assert.Equal(3, await fixture.CountAsync("SELECT coalesce(sum(calls), 0) FROM policy_rate_windows WHERE scope = 'tool' AND subject = 'u'"));
        Assert.Equal(2, await fixture.CountAsync("SELECT count(*) FROM policy_runs WHERE agent_id = 'b'"));
    }

    [Fact]
    public async Task Batches_from_several_instances_at_once_keep_every_limit_and_none_falls_back()
    {
        var warnings = new CountingLogger();
        var instances = Enumerable.Range(0, 3)
            .Select(_ => new AdmissionStore(_database, Options.Create(new PolicyOptions { File = "x" }), warnings)).ToArray();

        // Both agents on tool u in shared runs: each batch takes rows of both agents and the tool's rate row.
        var proposals = Enumerable.Range(0, 60).Select(i => Task.Run(async () =>
        {
            var agent = i % 2 == 0 ? "a" : "b";
            var proposal = new ActionProposed(Guid.CreateVersion7().ToString(), $"r{i % 3}", agent, "u",
                JsonDocument.Parse($"{{\"n\":{i}}}").RootElement.Clone(), null);
            var decision = PolicyEvaluator.Evaluate(proposal, agent, Policy, EvaluationState.At(Start));
            return await instances[i % instances.Length].AdmitAsync(proposal, decision, Policy.Version, Start, CancellationToken.None);
        })).ToList();
        var answers = await Task.WhenAll(proposals);

        // Tool u allows 5 calls a minute, agent a 3 of them.
        Assert.Equal(5, answers.Count(answer => answer.Decision.Decision == Decision.Allowed));
        Assert.Equal(5, await fixture.CountAsync("SELECT coalesce(sum(calls), 0) FROM policy_rate_windows WHERE scope = 'tool' AND subject = 'u'"));
        Assert.Equal(0, warnings.Warnings);
    }

    sealed class CountingLogger : Microsoft.Extensions.Logging.ILogger<AdmissionStore>
    {
        int _warnings;
        public int Warnings => _warnings;
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;
        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state,
            Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= Microsoft.Extensions.Logging.LogLevel.Warning)
                Interlocked.Increment(ref _warnings);
        }
    }
}
