using System.Diagnostics;
using AgentBus.Contracts;
using RabbitMQ.Client.Exceptions;

namespace AgentBus.Testbed;

/// <summary>
/// Sends a run's proposals through its agents (round robin), either at a fixed offered rate (open
/// loop: an action's latency counts from when it was due, so a stalled pipeline cannot hide behind
/// a stalled sender) or as fast as the pipeline finishes them with at most a window of actions
/// outstanding (closed loop). A publish the broker does not confirm is sent again, with the same
/// action id, until <see cref="RetryFor"/> runs out: what policy already saw is recognised as the
/// same action, so a proposal whose confirm was lost in a broker restart is neither lost nor doubled.
/// </summary>
public sealed class ProposalDriver(IReadOnlyList<BenchAgent> agents, ActionLedger ledger, Func<int, ActionProposed> proposal)
{
    int _outstanding;
    int _failures;
    int _retries;

    public TimeSpan PublishTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long one proposal is retried before it counts as a failed publish (zero: never retried).</summary>
    public TimeSpan RetryFor { get; init; } = TimeSpan.Zero;

    /// <summary>Proposals the broker never confirmed (after retries).</summary>
    public int PublishFailures => Volatile.Read(ref _failures);

    /// <summary>Publishes that were repeated after a failure or a missing confirm.</summary>
    public int Retries => Volatile.Read(ref _retries);

    public string? LastFailure { get; private set; }

    public async Task PublishAsync(int index, long intendedAt, CancellationToken ct)
    {
        var agent = agents[index % agents.Count];
        var body = BenchAgent.Serialize(proposal(index));
        ledger.Sent(index, intendedAt);
        var giveUpAt = Stopwatch.GetTimestamp() + (long)(RetryFor.TotalSeconds * Stopwatch.Frequency);
        var delay = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            try
            {
                await agent.PublishAsync(body, agent.Properties(Guid.NewGuid().ToString()), PublishTimeout, ct);
                ledger.Confirmed(index, Stopwatch.GetTimestamp());
                return;
            }
            catch (Exception ex) when (!ct.IsCancellationRequested && ex is OperationCanceledException or AlreadyClosedException
                                           or OperationInterruptedException or PublishException or IOException or BrokerUnreachableException)
            {
                LastFailure = $"{ex.GetType().Name}: {ex.Message}";
                if (Stopwatch.GetTimestamp() > giveUpAt)
                {
                    Interlocked.Increment(ref _failures);
                    return;
                }
                Interlocked.Increment(ref _retries);
                await Task.Delay(delay, ct);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 2000));
            }
        }
    }

    /// <summary>Offers <paramref name="count"/> actions starting at index <paramref name="from"/> at <paramref name="rate"/> per second.</summary>
    public async Task OpenLoopAsync(int from, int count, double rate, CancellationToken ct)
    {
        var start = Stopwatch.GetTimestamp();
        var ticksPerAction = Stopwatch.Frequency / rate;
        var next = 0;
        while (next < count)
        {
            var due = (int)Math.Min(count, (Stopwatch.GetTimestamp() - start) / ticksPerAction + 1);
            for (; next < due; next++)
                Track(PublishAsync(from + next, start + (long)(next * ticksPerAction), ct));
            await Task.Delay(1, ct);
        }
        await DrainAsync(ct);
    }

    /// <summary>Sends as fast as the pipeline ends actions, never more than <paramref name="window"/> unfinished at once.</summary>
    public async Task ClosedLoopAsync(int from, int count, int window, CancellationToken ct)
    {
        using var slots = new SemaphoreSlim(window, window);
        void OnEnded(int index)
        {
            if (index >= from && index < from + count)
                slots.Release();
        }
        ledger.Ended += OnEnded;
        try
        {
            for (var i = 0; i < count; i++)
            {
                await slots.WaitAsync(ct);
                Track(PublishAsync(from + i, Stopwatch.GetTimestamp(), ct));
            }
            await DrainAsync(ct);
        }
        finally
        {
            ledger.Ended -= OnEnded;
        }
    }

    void Track(Task publish)
    {
        Interlocked.Increment(ref _outstanding);
        publish.ContinueWith(t =>
        {
            if (t.IsFaulted)
            {
                LastFailure = t.Exception!.GetBaseException().Message;
                Interlocked.Increment(ref _failures);
            }
            Interlocked.Decrement(ref _outstanding);
        }, TaskScheduler.Default);
    }

    async Task DrainAsync(CancellationToken ct)
    {
        while (Volatile.Read(ref _outstanding) > 0)
            await Task.Delay(5, ct);
    }

    /// <summary>Waits until every action in the range has ended or the time is up; returns how many have.</summary>
    public static async Task<int> WaitForEndsAsync(ActionLedger ledger, int from, int count, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var ended = 0;
            for (var i = from; i < from + count; i++)
                if (ledger.OutcomeAt(i) != 0)
                    ended++;
            if (ended == count || DateTime.UtcNow > deadline)
                return ended;
            await Task.Delay(100, ct);
        }
    }
}
