using System.Threading.Channels;
using AgentBus.Contracts;
using AgentBus.Policy.Engine;
using AgentBus.ServiceDefaults.Telemetry;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AgentBus.Policy.Shadow;

/// <summary>A disagreement waiting to be written: both decisions, never the arguments (the queue stays small whatever agents send).</summary>
sealed record ShadowDisagreement(string ActionId, string AgentId, string RunId, string Tool, string? Operation, string? LiveVersion,
    PolicyDecision Live, string CandidateVersion, PolicyDecision Candidate, string Kind, string? Detail, DateTimeOffset DecidedAt);

/// <summary>
/// Shadow mode: the candidate policy decides every new proposal too, and nothing it decides is enforced.
/// <see cref="Observe"/> runs the pure evaluator on the candidate (a few microseconds, no I/O; so it can never
/// touch budgets, rates or idempotency state), counts agreement in memory and queues a disagreement as two
/// decisions, not the proposal; this service writes the counts (policy_shadow_counts) and the disagreements
/// (policy_shadow_disagreements) in batches, off the decision path. The queue is bounded: a writer that
/// falls behind drops verdicts and counts them, never delays a decision or grows without end.
/// </summary>
public sealed class ShadowRecorder(
    ShadowPolicy shadow,
    NpgsqlDataSource database,
    IOptions<PolicyOptions> options,
    ILogger<ShadowRecorder> logger) : BackgroundService
{
    const int BatchSize = 500;
    static readonly TimeSpan FlushInterval = TimeSpan.FromSeconds(1);

    readonly Channel<ShadowDisagreement> _disagreements = Channel.CreateBounded<ShadowDisagreement>(
        new BoundedChannelOptions(options.Value.ShadowQueueCapacity) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    sealed class Counts
    {
        public long Agreed;
        public long Disagreed;
        public long FirstTicks = long.MaxValue;
        public long LastTicks;
    }

    readonly System.Collections.Concurrent.ConcurrentDictionary<(string Candidate, string Live), Counts> _counts = new();

    /// <summary>The candidate's verdict on a newly decided proposal, if a candidate runs; never blocks, never does I/O.</summary>
    public void Observe(ActionProposed proposal, string sender, PolicyDecision live, string? liveVersion, EvaluationState state, DateTimeOffset now)
    {
        if (shadow.Current is not { } candidatePolicy)
            return;
        PolicyDecision candidate;
        try
        {
            candidate = PolicyEvaluator.Evaluate(proposal, sender, candidatePolicy, state);
        }
        catch (Exception ex)
        {
            // A candidate must never cost the live decision anything, a failure least of all.
            logger.LogWarning(ex, "The shadow candidate {Version} failed on action {ActionId}; the live decision stands", candidatePolicy.Version, proposal.ActionId);
            AgentBusMetrics.ShadowVerdictDropped();
            return;
        }
        var (kind, detail) = DecisionComparison.Compare(live, candidate);
        AgentBusMetrics.ShadowDecided(kind, live.Decision, candidate.Decision);

        var counts = _counts.GetOrAdd((candidatePolicy.Version, liveVersion ?? "none"), _ => new Counts());
        if (kind == DecisionComparison.Agreed)
            Interlocked.Increment(ref counts.Agreed);
        else
            Interlocked.Increment(ref counts.Disagreed);
        var ticks = now.UtcTicks;
        InterlockedMin(ref counts.FirstTicks, ticks);
        InterlockedMax(ref counts.LastTicks, ticks);

        if (kind != DecisionComparison.Agreed &&
            !_disagreements.Writer.TryWrite(new ShadowDisagreement(proposal.ActionId, proposal.AgentId, proposal.RunId, proposal.Tool, proposal.Operation,
                liveVersion, live, candidatePolicy.Version, candidate, kind, detail, now)))
            AgentBusMetrics.ShadowVerdictDropped();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(FlushInterval);
        var batch = new List<ShadowDisagreement>(BatchSize);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            var counts = TakeCounts();
            do
            {
                batch.Clear();
                while (batch.Count < BatchSize && _disagreements.Reader.TryRead(out var next))
                    batch.Add(next);
                if (counts.Count > 0 || batch.Count > 0)
                    await WriteAsync(counts, batch, stoppingToken);
                counts = [];
            }
            while (batch.Count == BatchSize);
        }
    }

    /// <summary>The counts since the last flush, taken out of the live counters (what is added meanwhile goes to the next flush).</summary>
    List<(string Candidate, string Live, long Agreed, long Disagreed, DateTimeOffset First, DateTimeOffset Last)> TakeCounts()
    {
        var taken = new List<(string, string, long, long, DateTimeOffset, DateTimeOffset)>();
        foreach (var (key, counts) in _counts)
        {
            var agreed = Interlocked.Exchange(ref counts.Agreed, 0);
            var disagreed = Interlocked.Exchange(ref counts.Disagreed, 0);
            var first = Interlocked.Exchange(ref counts.FirstTicks, long.MaxValue);
            var last = Interlocked.Exchange(ref counts.LastTicks, 0);
            if (agreed + disagreed > 0)
                taken.Add((key.Candidate, key.Live, agreed, disagreed, new DateTimeOffset(first, TimeSpan.Zero), new DateTimeOffset(last, TimeSpan.Zero)));
        }
        return taken;
    }

    static void InterlockedMin(ref long target, long value)
    {
        long seen;
        while (value < (seen = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }

    static void InterlockedMax(ref long target, long value)
    {
        long seen;
        while (value > (seen = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }

    /// <summary>Retried until it is written or the service stops: the counts are what operators read.</summary>
    async Task WriteAsync(List<(string Candidate, string Live, long Agreed, long Disagreed, DateTimeOffset First, DateTimeOffset Last)> counts,
        List<ShadowDisagreement> batch, CancellationToken stoppingToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var connection = await database.OpenConnectionAsync(stoppingToken);
                await using var transaction = await connection.BeginTransactionAsync(stoppingToken);
                foreach (var count in counts)
                    await connection.ExecuteAsync(new CommandDefinition("""
                        INSERT INTO policy_shadow_counts AS c (candidate_version, live_version, agreed, disagreed, first_at, last_at)
                        VALUES (@Candidate, @Live, @Agreed, @Disagreed, @First, @Last)
                        ON CONFLICT (candidate_version, live_version) DO UPDATE
                            SET agreed = c.agreed + EXCLUDED.agreed, disagreed = c.disagreed + EXCLUDED.disagreed, last_at = greatest(c.last_at, EXCLUDED.last_at)
                        """, new { count.Candidate, count.Live, count.Agreed, count.Disagreed, count.First, count.Last }, transaction,
                        cancellationToken: stoppingToken));
                foreach (var verdict in batch)
                    await connection.ExecuteAsync(new CommandDefinition("""
                        INSERT INTO policy_shadow_disagreements (action_id, agent_id, run_id, tool, operation, live_version, live_decision, live_reason_code,
                            live_rule, candidate_version, candidate_decision, candidate_reason_code, candidate_rule, kind, detail, decided_at)
                        VALUES (@ActionId, @AgentId, @RunId, @Tool, @Operation, @LiveVersion, @LiveDecision, @LiveReasonCode, @LiveRule,
                            @CandidateVersion, @CandidateDecision, @CandidateReasonCode, @CandidateRule, @Kind, @Detail, @DecidedAt)
                        ON CONFLICT (action_id, candidate_version) DO NOTHING
                        """, new
                    {
                        verdict.ActionId, verdict.AgentId, verdict.RunId, verdict.Tool, verdict.Operation, verdict.LiveVersion,
                        LiveDecision = verdict.Live.Decision.WireName(), LiveReasonCode = verdict.Live.ReasonCode, LiveRule = verdict.Live.RuleId,
                        verdict.CandidateVersion, CandidateDecision = verdict.Candidate.Decision.WireName(),
                        CandidateReasonCode = verdict.Candidate.ReasonCode, CandidateRule = verdict.Candidate.RuleId, verdict.Kind,
                        Detail = verdict.Detail ?? verdict.Candidate.Reason, verdict.DecidedAt,
                    }, transaction, cancellationToken: stoppingToken));
                await transaction.CommitAsync(stoppingToken);
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning("Recording shadow verdicts failed (attempt {Attempt}), retrying: {Error}", attempt, ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(30, attempt)), stoppingToken);
            }
        }
    }
}
