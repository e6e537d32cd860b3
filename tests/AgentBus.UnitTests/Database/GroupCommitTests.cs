using AgentBus.ServiceDefaults.Database;
using Microsoft.Extensions.Logging.Abstractions;

namespace AgentBus.UnitTests.Database;

public sealed class GroupCommitTests
{
    /// <summary>Records each call; the first one waits until the test lets it go, as a slow commit would.</summary>
    sealed class Database
    {
        public readonly List<string[]> Calls = [];
        public readonly TaskCompletionSource FirstMayFinish = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public readonly TaskCompletionSource FirstStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Func<IReadOnlyList<string>, bool> Fails { get; init; } = _ => false;

        public async Task<string[]> CommitAsync(IReadOnlyList<string> requests)
        {
            bool first;
            lock (Calls)
            {
                first = Calls.Count == 0;
                Calls.Add([.. requests]);
            }
            if (first)
            {
                FirstStarted.TrySetResult();
                await FirstMayFinish.Task;
            }
            if (Fails(requests))
                throw new InvalidOperationException($"refused: {string.Join(",", requests)}");
            return [.. requests.Select(request => request.ToUpperInvariant())];
        }
    }

    static GroupCommit<string, string> Group(Database database, int maxBatch = 32) =>
        new("test", database.CommitAsync, maxBatch, NullLogger.Instance);

    [Fact]
    public async Task A_lone_request_is_committed_at_once_as_a_batch_of_one()
    {
        var database = new Database();
        database.FirstMayFinish.SetResult();

        Assert.Equal("A", await Group(database).CommitAsync("a", CancellationToken.None));
        Assert.Equal([["a"]], database.Calls);
    }

    [Fact]
    public async Task Requests_that_arrive_while_a_batch_is_in_the_database_go_together_in_the_next_one_each_with_its_own_answer()
    {
        var database = new Database();
        var group = Group(database, maxBatch: 3);
        var first = group.CommitAsync("a", CancellationToken.None);
        await database.FirstStarted.Task;
        var waiting = new[] { "b", "c", "d", "e" }.Select(request => group.CommitAsync(request, CancellationToken.None)).ToList();
        database.FirstMayFinish.SetResult();

        Assert.Equal(["A", "B", "C", "D", "E"], await Task.WhenAll([first, .. waiting]));
        Assert.Equal([["a"], ["b", "c", "d"], ["e"]], database.Calls);
    }

    [Fact]
    public async Task A_batch_that_fails_is_committed_one_by_one_and_only_the_failing_request_sees_the_failure()
    {
        var database = new Database { Fails = requests => requests.Contains("bad") };
        var group = Group(database);
        var first = group.CommitAsync("a", CancellationToken.None);
        await database.FirstStarted.Task;
        var good = group.CommitAsync("b", CancellationToken.None);
        var bad = group.CommitAsync("bad", CancellationToken.None);
        var alsoGood = group.CommitAsync("c", CancellationToken.None);
        database.FirstMayFinish.SetResult();

        Assert.Equal("A", await first);
        Assert.Equal("B", await good);
        Assert.Equal("C", await alsoGood);
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => bad);
        Assert.Equal("refused: bad", failure.Message);
        Assert.Equal([["a"], ["b", "bad", "c"], ["b"], ["bad"], ["c"]], database.Calls);
    }

    [Fact]
    public async Task A_caller_that_stops_waiting_leaves_the_others_answered_and_the_group_usable()
    {
        var database = new Database();
        var group = Group(database);
        var first = group.CommitAsync("a", CancellationToken.None);
        await database.FirstStarted.Task;
        using var impatient = new CancellationTokenSource();
        var abandoned = group.CommitAsync("b", impatient.Token);
        var kept = group.CommitAsync("c", CancellationToken.None);
        await impatient.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        database.FirstMayFinish.SetResult();

        Assert.Equal("A", await first);
        Assert.Equal("C", await kept);
        Assert.Equal("D", await group.CommitAsync("d", CancellationToken.None));
        // The abandoned request was still committed: a retry of it must find it done.
        Assert.Equal([["a"], ["b", "c"], ["d"]], database.Calls);
    }

    [Fact]
    public async Task A_batch_answered_for_fewer_requests_than_it_had_fails_each_request_instead_of_leaving_one_unanswered()
    {
        var group = new GroupCommit<string, string>("test", requests => Task.FromResult(requests.Count > 1 ? new[] { "only one" } : []),
            32, NullLogger.Instance);
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => group.CommitAsync("a", CancellationToken.None));
        Assert.Contains("answered 0 times", failure.Message);
    }
    [Fact]
    public async Task Weighted_requests_fill_a_batch_up_to_its_limit_and_a_heavier_one_still_goes_alone()
    {
        var database = new Database();
        var group = new GroupCommit<string, string>("test", database.CommitAsync, 5, NullLogger.Instance) { Weight = request => request.Length };
        var first = group.CommitAsync("a", CancellationToken.None);
        await database.FirstStarted.Task;
        var waiting = new[] { "bb", "ccc", "dddddddd", "e" }.Select(request => group.CommitAsync(request, CancellationToken.None)).ToList();
        database.FirstMayFinish.SetResult();

        await Task.WhenAll([first, .. waiting]);
        Assert.Equal([["a"], ["bb", "ccc"], ["dddddddd"], ["e"]], database.Calls);
    }

    [Fact]
    public async Task A_failure_not_worth_committing_alone_reaches_every_request_of_its_batch()
    {
        var database = new Database { Fails = requests => requests.Contains("bad") };
        var group = new GroupCommit<string, string>("test", database.CommitAsync, 32, NullLogger.Instance) { RetryAlone = _ => false };
        var first = group.CommitAsync("a", CancellationToken.None);
        await database.FirstStarted.Task;
        var together = new[] { "b", "bad" }.Select(request => group.CommitAsync(request, CancellationToken.None)).ToList();
        database.FirstMayFinish.SetResult();

        Assert.Equal("A", await first);
        foreach (var request in together)
            await Assert.ThrowsAsync<InvalidOperationException>(() => request);
        Assert.Equal([["a"], ["b", "bad"]], database.Calls);
    }
}
