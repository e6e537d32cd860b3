using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.IntegrationTests.Infrastructure;
using AgentBus.Projections.Audit;
using AgentBus.ServiceDefaults.Messaging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AgentBus.IntegrationTests.Audit;

/// <summary>
/// The audit's decision and authorization rows come from the command the policy service kept
/// (policy_pending_authorizations, migration 0780), not from a copy on the broker: with the outcome,
/// or from the sweep when no outcome comes. The projections' login reaches that table only through
/// policy_take_authorizations.
/// </summary>
[Collection(AuditCollection.Name)]
public sealed class KeptAuthorizationTests(AuditFixture fixture) : IAsyncLifetime
{
    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    static ExecuteTool Command(string actionId, DateTimeOffset at) =>
        new(actionId, "run-kept", "support-bot", "ticketing", AuditSeed.Args("POST", new { title = "kept \0 with a NUL" }), "sha256:00", null, at,
            new ToolAuthorization("seed-key", null, at.AddMinutes(5), Convert.ToBase64String(new byte[64])),
            Allowance: new PolicyAllowance(ReasonCodes.Allowed, "seeded", "support-bot-tickets", "v-test"));

    /// <summary>What the policy service does in the admission's transaction.</summary>
    async Task KeepAsync(ExecuteTool command, string? correlationId, DateTimeOffset authorizedAt)
    {
        await using var insert = fixture.Superuser.CreateCommand("""
            INSERT INTO policy_pending_authorizations (action_id, message_id, correlation_id, command, authorized_at)
            VALUES ($1, $2, $3, $4, $5)
            """);
        insert.Parameters.Add(new() { Value = command.ActionId });
        insert.Parameters.Add(new() { Value = MessageIds.ExecuteTool(command.AgentId, command.ActionId) });
        insert.Parameters.Add(new() { Value = (object?)correlationId ?? DBNull.Value });
        insert.Parameters.Add(new() { Value = JsonSerializer.Serialize(command, WireJson.Options) });
        insert.Parameters.Add(new() { Value = authorizedAt });
        await insert.ExecuteNonQueryAsync();
    }

    async Task<List<(string EventType, string Outcome, string? CorrelationId)>> RowsAsync(string actionId) =>
        (await fixture.QueryAsync<(string, string, string?)>(
            "SELECT event_type, outcome, correlation_id FROM audit_events WHERE action_id = @actionId ORDER BY seq", new { actionId })).ToList();

    [Fact]
    public async Task An_outcome_brings_in_the_kept_command_as_the_decision_and_authorization_just_before_it()
    {
        var now = DateTimeOffset.UtcNow;
        var actionId = Guid.CreateVersion7().ToString();
        await KeepAsync(Command(actionId, now), "proposal-message-1", now);

        var outcome = new ActionSucceeded(actionId, "run-kept", "support-bot", "ticketing", JsonSerializer.SerializeToElement(new { id = "T-1" }),
            "T-1", 0.01m, 12, 1, now.AddMilliseconds(40), "executor-ticketing-1", now.AddMilliseconds(5));
        var written = await fixture.NewStore().AppendAsync(AuditEntry.WithStart(Guid.NewGuid(), outcome).ToList(), CancellationToken.None);

        Assert.Equal(2, written);
        Assert.Equal(
        [
            (nameof(ActionDecided), "allowed", "proposal-message-1"),
            (nameof(ExecuteTool), "authorized", "proposal-message-1"),
            (nameof(ExecutionStarted), "started", null),
            (nameof(ActionSucceeded), "succeeded", null),
        ], await RowsAsync(actionId));
        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM policy_pending_authorizations"));
        Assert.Equal((1, 1, 1), (await fixture.QueryAsync<(int, int, int)>(
            "SELECT actions_allowed, actions_authorized, actions_succeeded FROM run_summaries WHERE run_id = 'run-kept'")).Single());
    }

    [Fact]
    public async Task A_command_without_an_outcome_is_written_by_the_sweep_once_it_is_old_enough_and_only_once()
    {
        var now = DateTimeOffset.UtcNow;
        var waiting = Guid.CreateVersion7().ToString();
        var recent = Guid.CreateVersion7().ToString();
        await KeepAsync(Command(waiting, now.AddSeconds(-10)), null, now.AddSeconds(-10));
        await KeepAsync(Command(recent, now), null, now);
        var store = fixture.NewStore(new AuditOptions { AuthorizationSweepAfter = TimeSpan.FromSeconds(5) });

        Assert.Equal(2, await store.SweepAuthorizationsAsync(CancellationToken.None));

        Assert.Equal([(nameof(ActionDecided), "allowed", null), (nameof(ExecuteTool), "authorized", null)], await RowsAsync(waiting));
        Assert.Empty(await RowsAsync(recent));
        Assert.Equal([recent], await fixture.QueryAsync<string>("SELECT action_id FROM policy_pending_authorizations"));

        // Its outcome, when it comes at last, adds only itself.
        Assert.Equal(1, await store.AppendAsync([AuditSeed.Succeeded(waiting, "run-kept", "support-bot", "ticketing", 0.01m, now)], CancellationToken.None));
        Assert.Equal([nameof(ActionDecided), nameof(ExecuteTool), nameof(ActionSucceeded)], (await RowsAsync(waiting)).Select(r => r.EventType));
        Assert.Equal(0, await store.SweepAuthorizationsAsync(CancellationToken.None));
    }

    [Fact]
    public async Task The_projections_host_sweeps_on_its_own_timer()
    {
        var waiting = Guid.CreateVersion7().ToString();
        await KeepAsync(Command(waiting, DateTimeOffset.UtcNow.AddSeconds(-10)), null, DateTimeOffset.UtcNow.AddSeconds(-10));
        var options = new AuditOptions { AuthorizationSweepAfter = TimeSpan.FromSeconds(5), AuthorizationSweepInterval = TimeSpan.FromMilliseconds(200) };
        using var sweeper = new AuthorizationSweeper(fixture.NewStore(options), Options.Create(options), NullLogger<AuthorizationSweeper>.Instance);

        await sweeper.StartAsync(CancellationToken.None);
        try
        {
            await Eventually.True(async () => (await RowsAsync(waiting)).Count == 2, "the sweep to write the waiting command",
                TimeSpan.FromSeconds(10));
        }
        finally
        {
            await sweeper.StopAsync(CancellationToken.None);
        }
        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM policy_pending_authorizations"));
    }

    [Fact]
    public async Task The_projections_login_can_neither_read_nor_write_the_kept_commands_except_by_taking_them()
    {
        await KeepAsync(Command(Guid.CreateVersion7().ToString(), DateTimeOffset.UtcNow), null, DateTimeOffset.UtcNow);
        foreach (var sql in new[]
                 {
                     "SELECT count(*) FROM policy_pending_authorizations",
                     "UPDATE policy_pending_authorizations SET command = '{}'",
                     "INSERT INTO policy_pending_authorizations VALUES ('x', gen_random_uuid(), NULL, '{}', now())",
                     "DELETE FROM policy_pending_authorizations",
                 })
        {
            var refused = await Assert.ThrowsAsync<PostgresException>(() => fixture.ExecuteAsync(fixture.App, sql));
            Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, refused.SqlState);
        }
        Assert.Equal(1, await fixture.CountAsync("SELECT count(*) FROM policy_pending_authorizations"));
    }
}
