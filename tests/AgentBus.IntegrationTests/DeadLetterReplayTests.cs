using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using AgentBus.Operations.DeadLetters;
using AgentBus.Contracts;
using AgentBus.IntegrationTests.Infrastructure;
using AgentBus.ServiceDefaults.Json;
using AgentBus.ServiceDefaults.Messaging;

namespace AgentBus.IntegrationTests;

[Collection(PipelineCollection.Name)]
public sealed class DeadLetterReplayTests(PipelineFixture fixture) : IAsyncLifetime
{
    static readonly string ProposalsError = WireNames.PolicyProposalsQueue + "_error";
    static readonly string ProjectionsError = WireNames.ProjectionsQueue + "_error";

    readonly DeadLetterKit _kit = new(fixture);
    readonly DeadLetterReplayer _replayer = new(TimeProvider.System);

    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    object Refund(string order) => new { method = "POST", url = new Uri(fixture.SandboxUrl, "/payments/refunds").ToString(), body = new { orderId = order, amountUsd = 10 } };

    async Task WithoutPaymentsBinding(Func<Task> body)
    {
        using var http = fixture.AdminHttp();
        var binding = $"api/bindings/{Uri.EscapeDataString(fixture.VirtualHost)}/e/{WireNames.ExecuteToolExchange}/e/{WireNames.ToolQueue("payments")}";
        (await http.DeleteAsync($"{binding}/payments")).EnsureSuccessStatusCode();
        try
        {
            await body();
        }
        finally
        {
            (await http.PostAsync(binding, JsonContent.Create(new { routing_key = "payments" }))).EnsureSuccessStatusCode();
        }
    }

    Task<long> AuditRows(string eventType, string? actionId = null) => fixture.CountAsync(
        "SELECT count(*) FROM audit_events WHERE event_type = @eventType AND (@actionId::text IS NULL OR action_id = @actionId)", new { eventType, actionId });

    async Task<IReadOnlyList<JsonElement>> OperatorActions(string action) =>
        (await fixture.QueryAsync<string>("SELECT payload::text FROM audit_events WHERE event_type = 'OperatorActionTaken' AND outcome = @action ORDER BY seq",
            new { action })).Select(p => JsonSerializer.Deserialize<JsonElement>(p)).ToList();

    [Fact]
    public async Task A_failed_proposal_is_replayed_decided_for_the_agent_that_sent_it_and_runs_once()
    {
        await using var agent = await fixture.ConnectAgentAsync("support-bot");
        string actionId = "";
        await WithoutPaymentsBinding(async () =>
        {
            actionId = await agent.ProposeAsync("payments", Refund("ORD-DLQ"), "run-dlq-replay");
            await Eventually.True(async () => await _kit.DepthAsync(ProposalsError) == 1, "the proposal in the error queue", TimeSpan.FromSeconds(45));
        });

        await using var broker = await _kit.ConnectAsync();
        var (total, shown) = await DeadLetterInspector.ShowAsync(broker, ProposalsError, null, 10, CancellationToken.None);
        Assert.Equal(1, total);
        var dead = Assert.Single(shown);
        Assert.Equal(actionId, dead.ActionId);
        Assert.Equal("run-dlq-replay", dead.RunId);
        Assert.Equal("support-bot", dead.OriginalSender);
        Assert.Equal(nameof(ActionProposed), dead.MessageType);
        Assert.Equal("RabbitMQ.Client.Exceptions.PublishReturnException", dead.Failure);
        Assert.Contains("NO_ROUTE", dead.ExceptionMessage);
        Assert.Equal("AgentBus.Policy.Proposals.ProposalConsumer", dead.ConsumerType);
        Assert.EndsWith("/" + WireNames.PolicyProposalsQueue, dead.InputAddress);
        Assert.Equal(5, dead.RetryCount);
        Assert.NotNull(dead.FaultedAt);

        // Reading gave the message back; a quorum queue makes it ready again a moment later.
        await _kit.DepthSettlesAtAsync(ProposalsError, 1);
        var report = await _replayer.ReplayAsync(broker, ProposalsError, DeadLetterSelection.Everything, "alice", new(), null, CancellationToken.None);
        Assert.Equal(1, report.Replayed);
        Assert.Equal(WireNames.PolicyProposalsQueue, report.Target);

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var result = await agent.WaitAsync(actionId, deadline.Token);
        Assert.NotNull(result.Succeeded);
        Assert.Single(fixture.SandboxCalls.Calls, c => c.ActionId == actionId);
        Assert.Equal(0u, await _kit.DepthAsync(ProposalsError));

        await Eventually.True(async () => await AuditRows(nameof(ActionSucceeded), actionId) == 1, "the outcome in the audit");
        // The replay's decision repeats the first one's message id: one decision in the audit, for the original agent.
        Assert.Equal(1, await AuditRows(nameof(ActionDecided), actionId));
        Assert.Equal("support-bot", (await fixture.QueryAsync<string>("SELECT agent_id FROM audit_events WHERE action_id = @actionId AND event_type = 'ActionDecided'",
            new { actionId })).Single());

        await Eventually.True(async () => (await OperatorActions("dlq.replay")).Count == 1, "the replay in the audit");
        var audit = (await OperatorActions("dlq.replay")).Single();
        Assert.Equal("alice", audit.GetProperty("operator").GetString());
        Assert.Equal(ProposalsError, audit.GetProperty("target").GetString());
        Assert.Equal(dead.MessageId, audit.GetProperty("details").GetProperty("messageIds")[0].GetString());
        Assert.Equal(actionId, audit.GetProperty("details").GetProperty("actionIds")[0].GetString());
    }

    [Fact]
    public async Task An_agent_that_sets_the_identity_header_itself_gains_nothing()
    {
        await using var intern = await RawAgent.ConnectAsync(fixture, "intern-bot");
        var forged = new Dictionary<string, object?> { [BrokerIdentity.OriginalUserIdHeader] = "support-bot" };
        // intern-bot has no grant for payments; support-bot has.
        var claim = RawAgent.Proposal("support-bot", "payments", Refund("ORD-FORGED"));

        var withOwnUserId = await intern.DecisionForAsync(await intern.PublishAsync(claim, headers: forged));
        Assert.Equal(ReasonCodes.IdentityMismatch, withOwnUserId.GetProperty("reasonCode").GetString());
        Assert.Equal("intern-bot", withOwnUserId.GetProperty("agentId").GetString());

        var actionId = Guid.CreateVersion7().ToString();
        await intern.PublishAsync(RawAgent.Proposal("support-bot", "payments", Refund("ORD-FORGED-2"), actionId), userId: null, headers: forged);
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @actionId AND reason_code = 'identity_missing'", new { actionId }) == 1,
            "the identity_missing decision");

        Assert.DoesNotContain(fixture.SandboxCalls.Calls, c => c.Path.Contains("refunds", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Dead_letters_are_listed_by_queue_and_grouped_by_exception_and_message_type_without_being_moved()
    {
        var first = await _kit.SeedAsync(ProjectionsError, DeadLetterKit.Succeeded(), "Npgsql.PostgresException", "relation does not exist",
            faultedAt: DateTimeOffset.UtcNow.AddMinutes(-42));
        await _kit.SeedAsync(ProjectionsError, DeadLetterKit.Succeeded(), "Npgsql.PostgresException", "relation does not exist");
        await _kit.SeedAsync(ProjectionsError, new ActionFailed(Guid.CreateVersion7().ToString(), "run-dlq", "support-bot", "payments", "x", "y", false, 1, 1,
            DateTimeOffset.UtcNow), "System.TimeoutException", "too slow");
        await _kit.SeedAsync(WireNames.ProjectionsQueue + "_skipped", DeadLetterKit.Succeeded(), skipped: true);

        await using var broker = await _kit.ConnectAsync();
        var summaries = await DeadLetterInspector.ListAsync(broker, 100, CancellationToken.None);

        var errors = Assert.Single(summaries, s => s.Queue == ProjectionsError);
        Assert.Equal(3, errors.Messages);
        Assert.InRange(DateTimeOffset.UtcNow - errors.Oldest!.Value, TimeSpan.FromMinutes(41), TimeSpan.FromMinutes(44));
        Assert.Equal(2, errors.Groups.Count);
        var database = errors.Groups[0];
        Assert.Equal(("Npgsql.PostgresException", nameof(ActionSucceeded), 2), (database.Failure, database.MessageType, database.Count));
        Assert.Equal("relation does not exist", database.Example);
        var skipped = Assert.Single(summaries, s => s.Queue == WireNames.ProjectionsQueue + "_skipped");
        Assert.StartsWith("(skipped", Assert.Single(skipped.Groups).Failure);

        var (_, onlyDatabase) = await DeadLetterInspector.ShowAsync(broker, ProjectionsError, database.GroupId, 10, CancellationToken.None);
        Assert.Equal(2, onlyDatabase.Count);
        Assert.All(onlyDatabase, m => Assert.Equal(database.GroupId, m.GroupId));

        // Reading changed nothing, not even the order.
        await _kit.DepthSettlesAtAsync(ProjectionsError, 3);
        var (_, again) = await DeadLetterInspector.ShowAsync(broker, ProjectionsError, null, 10, CancellationToken.None);
        Assert.Equal(first, again[0].MessageId);
        Assert.Equal(0, await _kit.RunCliAsync(_kit.CliArguments("list")));
        Assert.Equal(0, await _kit.RunCliAsync(_kit.CliArguments("show", ProjectionsError, "--group", database.GroupId)));
    }

    [Fact]
    public async Task A_dry_run_changes_nothing_and_a_replay_of_one_group_leaves_the_others()
    {
        var events = Enumerable.Range(0, 3).Select(_ => DeadLetterKit.Succeeded()).ToList();
        foreach (var e in events)
            await _kit.SeedAsync(ProjectionsError, e, "Npgsql.NpgsqlException", "the database was down");
        var other = await _kit.SeedAsync(ProjectionsError, DeadLetterKit.Succeeded(), "System.TimeoutException", "too slow");

        await using var broker = await _kit.ConnectAsync();
        var group = DeadLetter.GroupIdFor("Npgsql.NpgsqlException", nameof(ActionSucceeded));
        var dry = await _replayer.ReplayAsync(broker, ProjectionsError, DeadLetterSelection.Group(group), "alice", new(DryRun: true), null, CancellationToken.None);
        Assert.Equal(3, dry.Messages.Count(m => m.Outcome == ReplayOutcome.WouldReplay));
        Assert.Equal(0, dry.Replayed);
        await _kit.DepthSettlesAtAsync(ProjectionsError, 4);
        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM audit_events"));

        Assert.Equal(0, await _kit.RunCliAsync(_kit.CliArguments("replay", ProjectionsError, "--group", group, "--operator", "bob")));

        await Eventually.True(async () => await AuditRows(nameof(ActionSucceeded)) == 3, "the three replayed events recorded");
        foreach (var e in events)
            Assert.Equal(1, await AuditRows(nameof(ActionSucceeded), e.ActionId));
        var (_, left) = await DeadLetterInspector.ShowAsync(broker, ProjectionsError, null, 10, CancellationToken.None);
        Assert.Equal(other, Assert.Single(left).MessageId);
        await Eventually.True(async () => (await OperatorActions("dlq.replay")).Count == 1, "the replay in the audit");
        Assert.Equal("bob", (await OperatorActions("dlq.replay")).Single().GetProperty("operator").GetString());
    }

    [Fact]
    public async Task A_replay_keeps_message_ids_so_a_message_replayed_twice_is_recorded_once()
    {
        var e = DeadLetterKit.Succeeded();
        var id = await _kit.SeedAsync(ProjectionsError, e);
        await _kit.SeedAsync(ProjectionsError, e, messageId: id, faultedAt: DateTimeOffset.UtcNow.AddSeconds(1));

        await using var broker = await _kit.ConnectAsync();
        var report = await _replayer.ReplayAsync(broker, ProjectionsError, DeadLetterSelection.Message(id), "alice", new(), null, CancellationToken.None);

        Assert.Equal(2, report.Replayed);
        await Eventually.True(async () => await AuditRows(nameof(ActionSucceeded), e.ActionId) == 1, "the event recorded");
        Assert.Equal(id, (await fixture.QueryAsync<Guid>("SELECT event_id FROM audit_events WHERE action_id = @ActionId", e)).Single().ToString());
        await Task.Delay(500);
        Assert.Equal(1, await AuditRows(nameof(ActionSucceeded), e.ActionId));
    }

    [Fact]
    public async Task A_message_whose_fault_headers_name_another_queue_is_left_in_place()
    {
        await _kit.SeedAsync(ProjectionsError, DeadLetterKit.Succeeded(), inputQueue: WireNames.ToolQueue("payments"));

        await using var broker = await _kit.ConnectAsync();
        var report = await _replayer.ReplayAsync(broker, ProjectionsError, DeadLetterSelection.Everything, "alice", new(), null, CancellationToken.None);

        Assert.Equal(ReplayOutcome.LeftInPlace, Assert.Single(report.Messages).Outcome);
        await _kit.DepthSettlesAtAsync(ProjectionsError, 1);
    }

    [Fact]
    public async Task The_rate_limit_paces_a_replay()
    {
        for (var i = 0; i < 8; i++)
            await _kit.SeedAsync(ProjectionsError, DeadLetterKit.Succeeded());

        await using var broker = await _kit.ConnectAsync();
        var clock = Stopwatch.StartNew();
        var report = await _replayer.ReplayAsync(broker, ProjectionsError, DeadLetterSelection.Everything, "alice", new(RatePerSecond: 4), null, CancellationToken.None);

        Assert.Equal(8, report.Replayed);
        // The first message goes at once, each later one a quarter of a second after the previous.
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(1.6), $"8 messages at 4/s took only {clock.Elapsed.TotalSeconds:0.00} s");
        await Eventually.True(async () => await AuditRows(nameof(ActionSucceeded)) == 8, "the replayed events recorded");
    }

    [Fact]
    public async Task A_replay_interrupted_before_its_audit_record_loses_nothing_and_can_be_run_again()
    {
        var events = Enumerable.Range(0, 3).Select(_ => DeadLetterKit.Succeeded()).ToList();
        foreach (var e in events)
            await _kit.SeedAsync(ProjectionsError, e);

        using var http = fixture.AdminHttp();
        var binding = $"api/bindings/{Uri.EscapeDataString(fixture.VirtualHost)}/e/{WireNames.OperatorActionsExchange}/e/{WireNames.ProjectionsQueue}";
        (await http.DeleteAsync($"{binding}/%23")).EnsureSuccessStatusCode();
        await using var broker = await _kit.ConnectAsync();
        try
        {
            var failure = await Assert.ThrowsAsync<DeadLetterException>(() =>
                _replayer.ReplayAsync(broker, ProjectionsError, DeadLetterSelection.Everything, "alice", new(), null, CancellationToken.None));
            Assert.Contains(WireNames.OperatorActionsExchange, failure.Message);
        }
        finally
        {
            (await http.PostAsync(binding, JsonContent.Create(new { routing_key = "#" }))).EnsureSuccessStatusCode();
        }

        // The copies went out (confirmed) but the originals were never acknowledged: all still here.
        await Eventually.True(async () => await AuditRows(nameof(ActionSucceeded)) == 3, "the replayed copies recorded");
        await _kit.DepthSettlesAtAsync(ProjectionsError, 3);

        var again = await _replayer.ReplayAsync(broker, ProjectionsError, DeadLetterSelection.Everything, "alice", new(), null, CancellationToken.None);
        Assert.Equal(3, again.Replayed);
        Assert.Equal(0u, await _kit.DepthAsync(ProjectionsError));
        await Eventually.True(async () => (await OperatorActions("dlq.replay")).Count == 1, "the replay in the audit");
        await Task.Delay(500);
        foreach (var e in events)
            Assert.Equal(1, await AuditRows(nameof(ActionSucceeded), e.ActionId));
    }

    [Fact]
    public async Task Replaying_to_a_queue_not_bound_for_replays_fails_clearly_and_keeps_the_message()
    {
        await _kit.SeedAsync(ProjectionsError, DeadLetterKit.Succeeded());
        using var http = fixture.AdminHttp();
        var binding = $"api/bindings/{Uri.EscapeDataString(fixture.VirtualHost)}/e/{WireNames.ReplayExchange}/q/{WireNames.ProjectionsQueue}";
        (await http.DeleteAsync($"{binding}/{WireNames.ProjectionsQueue}")).EnsureSuccessStatusCode();
        try
        {
            await using var broker = await _kit.ConnectAsync();
            var failure = await Assert.ThrowsAsync<DeadLetterException>(() =>
                _replayer.ReplayAsync(broker, ProjectionsError, DeadLetterSelection.Everything, "alice", new(), null, CancellationToken.None));
            Assert.Contains("agentbus broker apply", failure.Message);
            await _kit.DepthSettlesAtAsync(ProjectionsError, 1);
            Assert.Equal(1, await _kit.RunCliAsync(_kit.CliArguments("replay", ProjectionsError, "--all")));
        }
        finally
        {
            (await http.PostAsync(binding, JsonContent.Create(new { routing_key = WireNames.ProjectionsQueue }))).EnsureSuccessStatusCode();
        }
        await _kit.DepthSettlesAtAsync(ProjectionsError, 1);
    }

    [Fact]
    public async Task A_replayed_command_goes_through_the_executors_checks()
    {
        var errorQueue = WireNames.ToolQueue("ticketing") + "_error";
        var arguments = JsonSerializer.SerializeToElement(new { method = "POST", url = new Uri(fixture.SandboxUrl, "/ticketing/tickets").ToString(), body = new { title = "t" } });
        using var signer = AgentBus.ServiceDefaults.Security.AuthorizationSigner.FromFile(fixture.SigningKeyFile);
        var unsigned = new ExecuteTool(Guid.CreateVersion7().ToString(), "run-dlq-cmd", "support-bot", "ticketing", arguments,
            CanonicalJson.Hash(arguments), null, DateTimeOffset.UtcNow, null!);
        var genuine = unsigned with { Authorization = signer.Sign(unsigned, null, DateTimeOffset.UtcNow.AddMinutes(5)) };
        // Properly signed, then its arguments swapped: the executor must refuse it on replay too.
        var other = unsigned with { ActionId = Guid.CreateVersion7().ToString() };
        var tampered = (other with { Authorization = signer.Sign(other, null, DateTimeOffset.UtcNow.AddMinutes(5)) }) with
        {
            Arguments = JsonSerializer.SerializeToElement(new { method = "POST", url = new Uri(fixture.SandboxUrl, "/ticketing/tickets").ToString(), body = new { title = "swapped" } }),
        };
        await _kit.SeedAsync(errorQueue, tampered);
        await _kit.SeedAsync(errorQueue, genuine);

        await using var broker = await _kit.ConnectAsync();
        var report = await _replayer.ReplayAsync(broker, errorQueue, DeadLetterSelection.Everything, "alice", new(), null, CancellationToken.None);
        Assert.Equal(2, report.Replayed);

        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @ActionId AND event_type = 'ActionFailed' AND reason_code = 'arguments_changed'", tampered) == 1,
            "the tampered command refused");
        await Eventually.True(async () => await AuditRows(nameof(ActionSucceeded), genuine.ActionId) == 1, "the genuine command run");
        Assert.DoesNotContain(fixture.SandboxCalls.Calls, c => c.ActionId == tampered.ActionId);
        Assert.Single(fixture.SandboxCalls.Calls, c => c.ActionId == genuine.ActionId);
    }
}
