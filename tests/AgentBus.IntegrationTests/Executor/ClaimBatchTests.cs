using AgentBus.Executor.Execution;
using AgentBus.IntegrationTests.Infrastructure;
using Dapper;
using Npgsql;

namespace AgentBus.IntegrationTests.Executor;

/// <summary>Claims and outcomes that wait at the same moment share one commit; each still claims and finishes on its own.</summary>
[Collection(ExecutorCollection.Name)]
public sealed class ClaimBatchTests(ExecutorFixture fixture) : IAsyncLifetime
{
    NpgsqlDataSource _database = null!;

    public async Task InitializeAsync()
    {
        await fixture.ResetAsync();
        _database = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(fixture.ConnectionString) { MaxPoolSize = 4 }.ConnectionString);
    }

    public async Task DisposeAsync() => await _database.DisposeAsync();

    [Fact]
    public async Task Two_deliveries_of_one_command_in_the_same_batch_are_owned_by_one_and_only_its_outcome_is_recorded()
    {
        var store = new ClaimStore(_database);
        var lease = TimeSpan.FromSeconds(30);
        var blocker = fixture.Command("ticketing", fixture.Ticket("blocker"));
        var twice = fixture.Command("ticketing", fixture.Ticket("twice in one batch"));

        // Another copy is claiming the blocker and has not committed: the first batch waits on it,
        // and the two deliveries of the other command gather behind it into one batch.
        await using var other = await _database.OpenConnectionAsync();
        var claiming = await other.BeginTransactionAsync();
        await other.ExecuteAsync("""
            INSERT INTO execution_claims (action_id, tool, run_id, agent_id, arguments_hash, state, executor, claim_token)
            VALUES (@ActionId, @Tool, @RunId, @AgentId, @ArgumentsHash, 'running', 'other-copy', @Token)
            """, new { blocker.ActionId, blocker.Tool, blocker.RunId, blocker.AgentId, blocker.ArgumentsHash, Token = Guid.NewGuid() }, claiming);
        var blocked = store.TryClaimAsync(blocker, "this-copy", Guid.NewGuid(), lease, CancellationToken.None);
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'transactionid'") > 0, "the first batch waits");
        var (first, second) = (Guid.NewGuid(), Guid.NewGuid());
        var claims = new[]
        {
            store.TryClaimAsync(twice, "this-copy", first, lease, CancellationToken.None),
            store.TryClaimAsync(twice, "this-copy", second, lease, CancellationToken.None),
        };
        await claiming.CommitAsync();

        Assert.False((await blocked).IsOwned);
        var attempts = await Task.WhenAll(claims);
        Assert.True(attempts[0].IsOwned);
        Assert.Equal(first, attempts[1].Existing?.ClaimToken);

        var outcome = new RecordedOutcome(ClaimState.Succeeded, 1, "ActionSucceeded", Guid.NewGuid(), "{\"actionId\":\"x\"}");
        var finished = await Task.WhenAll(
            store.FinishAsync(twice.ActionId, second, outcome with { Json = "{\"from\":\"the loser\"}" }, CancellationToken.None),
            store.FinishAsync(twice.ActionId, first, outcome, CancellationToken.None));
        Assert.Equal([false, true], finished);
        var recorded = await store.GetAsync(twice.ActionId, lease, CancellationToken.None);
        Assert.Equal((ClaimState.Succeeded, "{\"actionId\":\"x\"}"), (recorded!.State, recorded.Outcome));
    }

    [Fact]
    public async Task A_claim_or_outcome_retried_after_its_commit_answer_was_lost_is_recognised_as_its_own()
    {
        var store = new ClaimStore(_database);
        var lease = TimeSpan.FromSeconds(30);
        var command = fixture.Command("ticketing", fixture.Ticket("answer lost"));
        var token = Guid.NewGuid();

        Assert.True((await store.TryClaimAsync(command, "this-copy", token, lease, CancellationToken.None)).IsOwned);
        // The retry of the same attempt (same token) finds its own committed row: still its claim.
        Assert.True((await store.TryClaimAsync(command, "this-copy", token, lease, CancellationToken.None)).IsOwned);
        Assert.False((await store.TryClaimAsync(command, "another-copy", Guid.NewGuid(), lease, CancellationToken.None)).IsOwned);

        var outcome = new RecordedOutcome(ClaimState.Succeeded, 1, "ActionSucceeded", Guid.NewGuid(), "{\"actionId\":\"x\"}");
        Assert.True(await store.FinishAsync(command.ActionId, token, outcome, CancellationToken.None));
        Assert.True(await store.FinishAsync(command.ActionId, token, outcome, CancellationToken.None));
        // Anything else under that token is not what was recorded: the first outcome stands.
        Assert.False(await store.FinishAsync(command.ActionId, token, outcome with { Json = "{\"actionId\":\"y\"}" }, CancellationToken.None));
        Assert.False(await store.FinishAsync(command.ActionId, token, outcome with { State = ClaimState.OutcomeUnknown }, CancellationToken.None));
        Assert.Equal("{\"actionId\":\"x\"}", (await store.GetAsync(command.ActionId, lease, CancellationToken.None))!.Outcome);
    }
}
