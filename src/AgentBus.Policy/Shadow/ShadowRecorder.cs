using System.Threading.Channels;
using AgentBus.Contracts;
using AgentBus.Policy.Engine;
using AgentBus.ServiceDefaults.Telemetry;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AgentBus.Policy.Shadow;

/// <summary>One new proposal as the live policy decided it (by its stateless steps), waiting for the candidate's verdict.</summary>
sealed record ShadowCase(ActionProposed Proposal, string Sender, PolicyDecision Live, string? LiveVersion, PolicySnapshot Candidate,
    EvaluationState State, DateTimeOffset DecidedAt);

/// <summary>
/// Shadow mode: the candidate policy decides every new proposal too, and nothing it decides is enforced.
/// The consumer only hands the case over (<see cref="Observe"/>: no evaluation, no I/O on the decision
/// path); this service evaluates the candidate with the pure evaluator (so it can never touch budgets,
/// rates or idempotency state), counts agreement in metrics and in policy_shadow_counts, and records each
/// disagreement with both decisions in policy_shadow_disagreements, in batches.
/// </summary>
public sealed class ShadowRecorder(
    ShadowPolicy shadow,
    NpgsqlDataSource database,
    IOptions<PolicyOptions> options,
    ILogger<ShadowRecorder> logger) : BackgroundService
{
    const int BatchSize = 500;

    readonly Channel<ShadowCase> _cases = Channel.CreateBounded<ShadowCase>(new BoundedChannelOptions(options.Value.ShadowQueueCapacity)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
    });

    /// <summary>Hands a newly decided proposal to the candidate, if one runs; never blocks.</summary>
    public void Observe(ActionProposed proposal, string sender, PolicyDecision live, string? liveVersion, EvaluationState state, DateTimeOffset now)
    {
        if (shadow.Current is not { } candidate)
            return;
        if (!_cases.Writer.TryWrite(new ShadowCase(proposal, sender, live, liveVersion, candidate, state, now)))
            AgentBusMetrics.ShadowVerdictDropped();
    }

    sealed record Verdict(ShadowCase Case, PolicyDecision Candidate, string Kind, string? Detail);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<Verdict>(BatchSize);
        while (await _cases.Reader.WaitToReadAsync(stoppingToken))
        {
            while (batch.Count < BatchSize && _cases.Reader.TryRead(out var next))
                batch.Add(Judge(next));
            await WriteAsync(batch, stoppingToken);
            batch.Clear();
        }
    }

    static Verdict Judge(ShadowCase shadowCase)
    {
        var candidate = PolicyEvaluator.Evaluate(shadowCase.Proposal, shadowCase.Sender, shadowCase.Candidate, shadowCase.State);
        var (kind, detail) = DecisionComparison.Compare(shadowCase.Live, candidate);
        AgentBusMetrics.ShadowDecided(kind, shadowCase.Live.Decision, candidate.Decision);
        return new Verdict(shadowCase, candidate, kind, detail);
    }

    /// <summary>Retried until it is written or the service stops: the counts are what operators read.</summary>
    async Task WriteAsync(List<Verdict> batch, CancellationToken stoppingToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var connection = await database.OpenConnectionAsync(stoppingToken);
                await using var transaction = await connection.BeginTransactionAsync(stoppingToken);
                foreach (var pair in batch.GroupBy(v => (v.Case.Candidate.Version, Live: v.Case.LiveVersion ?? "none")))
                    await connection.ExecuteAsync(new CommandDefinition("""
                        INSERT INTO policy_shadow_counts AS c (candidate_version, live_version, agreed, disagreed, first_at, last_at)
                        VALUES (@Candidate, @Live, @Agreed, @Disagreed, @First, @Last)
                        ON CONFLICT (candidate_version, live_version) DO UPDATE
                            SET agreed = c.agreed + EXCLUDED.agreed, disagreed = c.disagreed + EXCLUDED.disagreed, last_at = greatest(c.last_at, EXCLUDED.last_at)
                        """, new
                    {
                        Candidate = pair.Key.Version, pair.Key.Live,
                        Agreed = pair.LongCount(v => v.Kind == DecisionComparison.Agreed),
                        Disagreed = pair.LongCount(v => v.Kind != DecisionComparison.Agreed),
                        First = pair.Min(v => v.Case.DecidedAt), Last = pair.Max(v => v.Case.DecidedAt),
                    }, transaction, cancellationToken: stoppingToken));
                foreach (var verdict in batch.Where(v => v.Kind != DecisionComparison.Agreed))
                {
                    var (proposal, live) = (verdict.Case.Proposal, verdict.Case.Live);
                    await connection.ExecuteAsync(new CommandDefinition("""
                        INSERT INTO policy_shadow_disagreements (action_id, agent_id, run_id, tool, operation, live_version, live_decision, live_reason_code,
                            live_rule, candidate_version, candidate_decision, candidate_reason_code, candidate_rule, kind, detail, decided_at)
                        VALUES (@ActionId, @AgentId, @RunId, @Tool, @Operation, @LiveVersion, @LiveDecision, @LiveReasonCode, @LiveRule,
                            @CandidateVersion, @CandidateDecision, @CandidateReasonCode, @CandidateRule, @Kind, @Detail, @DecidedAt)
                        ON CONFLICT (action_id, candidate_version) DO NOTHING
                        """, new
                    {
                        proposal.ActionId, proposal.AgentId, proposal.RunId, proposal.Tool, proposal.Operation,
                        verdict.Case.LiveVersion, LiveDecision = live.Decision.WireName(), LiveReasonCode = live.ReasonCode, LiveRule = live.RuleId,
                        CandidateVersion = verdict.Case.Candidate.Version, CandidateDecision = verdict.Candidate.Decision.WireName(),
                        CandidateReasonCode = verdict.Candidate.ReasonCode, CandidateRule = verdict.Candidate.RuleId, verdict.Kind,
                        Detail = verdict.Detail ?? verdict.Candidate.Reason, verdict.Case.DecidedAt,
                    }, transaction, cancellationToken: stoppingToken));
                }
                await transaction.CommitAsync(stoppingToken);
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning("Recording {Count} shadow verdicts failed (attempt {Attempt}), retrying: {Error}", batch.Count, attempt, ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(Math.Min(30, attempt)), stoppingToken);
            }
        }
    }
}
