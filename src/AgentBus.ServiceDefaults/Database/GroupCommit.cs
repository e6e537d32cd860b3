using AgentBus.ServiceDefaults.Telemetry;
using Microsoft.Extensions.Logging;

namespace AgentBus.ServiceDefaults.Database;

/// <summary>
/// Group commit: the requests that wait for the database at the same moment go to it together, in
/// one call of <paramref name="commitTogether"/> (one transaction, one commit). Nothing waits to fill
/// a batch: a lone request goes at once, as a batch of one; under load a batch is whatever gathered
/// while the previous one was in the database. One batch is in the database at a time per instance.
///
/// A batch that fails as a whole has committed nothing (the call is one transaction), unless only the
/// commit's answer was lost; its requests are then committed one by one (for the failures
/// <see cref="RetryAlone"/> picks: all, unless set), so one request's failure is that request's alone
/// and reaches only its caller. Both that lost answer and a caller that stops waiting (its request
/// stays in the batch) mean every request this commits must be safe to find already committed by a
/// retry (every writer here is keyed, and the executor's claims and outcomes recognise their own).
/// </summary>
/// <param name="kind">Names the batches in the log and in <c>agentbus.group_commit.batch_size</c>.</param>
/// <param name="commitTogether">Commits the requests in one transaction; the answers in the requests' order.</param>
/// <param name="maxBatch">The most one call takes, in <see cref="Weight"/> (requests, unless set); a heavier request still goes alone.</param>
public sealed class GroupCommit<TRequest, TAnswer>(
    string kind, Func<IReadOnlyList<TRequest>, Task<TAnswer[]>> commitTogether, int maxBatch, ILogger logger)
{
    /// <summary>How much of <c>maxBatch</c> a request takes: 1 unless set (the audit counts a batch's events).</summary>
    public Func<TRequest, int> Weight { get; init; } = _ => 1;

    /// <summary>
    /// Which failures of a batch are worth committing its requests one by one: every failure unless
    /// set. Any other failure of a batch reaches every request in it.
    /// </summary>
    public Func<Exception, bool> RetryAlone { get; init; } = _ => true;

    sealed record Pending(TRequest Request)
    {
        public TaskCompletionSource<TAnswer> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    readonly Lock _gate = new();
    readonly Queue<Pending> _waiting = new();
    bool _draining;

    public Task<TAnswer> CommitAsync(TRequest request, CancellationToken ct)
    {
        var pending = new Pending(request);
        bool start;
        lock (_gate)
        {
            _waiting.Enqueue(pending);
            start = !_draining;
            _draining = true;
        }
        if (start)
            _ = Task.Run(DrainAsync, CancellationToken.None);
        return pending.Answer.Task.WaitAsync(ct);
    }

    async Task DrainAsync()
    {
        while (true)
        {
            List<Pending> batch;
            lock (_gate)
            {
                if (_waiting.Count == 0)
                {
                    _draining = false;
                    return;
                }
                batch = [];
                for (var weight = 0; _waiting.TryPeek(out var next) && (batch.Count == 0 || weight + Weight(next.Request) <= maxBatch);)
                {
                    weight += Weight(next.Request);
                    batch.Add(_waiting.Dequeue());
                }
            }
            await CommitBatchAsync(batch);
        }
    }

    async Task CommitBatchAsync(List<Pending> batch)
    {
        try
        {
            var answers = await CommitTogetherAsync(batch.ConvertAll(pending => pending.Request));
            for (var i = 0; i < batch.Count; i++)
                batch[i].Answer.TrySetResult(answers[i]);
            return;
        }
        catch (Exception failure) when (batch.Count > 1 && RetryAlone(failure))
        {
            logger.LogWarning(failure, "A {Kind} batch of {Count} failed and committed nothing; committing its requests one by one",
                kind, batch.Count);
        }
        catch (Exception failure)
        {
            foreach (var pending in batch)
                pending.Answer.TrySetException(failure);
            return;
        }

        foreach (var pending in batch)
        {
            try
            {
                pending.Answer.TrySetResult((await CommitTogetherAsync([pending.Request]))[0]);
            }
            catch (Exception failure)
            {
                pending.Answer.TrySetException(failure);
            }
        }
    }

    async Task<TAnswer[]> CommitTogetherAsync(IReadOnlyList<TRequest> requests)
    {
        var answers = await commitTogether(requests);
        if (answers.Length != requests.Count)
            throw new InvalidOperationException($"A {kind} batch of {requests.Count} was answered {answers.Length} times.");
        AgentBusMetrics.GroupCommitted(kind, requests.Count);
        return answers;
    }
}
