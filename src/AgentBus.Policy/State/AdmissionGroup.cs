using System.Text.Json;
using System.Text.Json.Serialization;
using AgentBus.ServiceDefaults.Telemetry;
using Dapper;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace AgentBus.Policy.State;

/// <summary>What policy_admit is asked for one proposal (one element of policy_admit_batch's argument).</summary>
sealed record AdmissionRequest(
    string ActionId, string AgentId, string RunId, string Tool, string? Operation, string ArgumentsHash, string? IdempotencyKey,
    DateTimeOffset Now, string? DedupeKey, DateTimeOffset DedupeExpiresAt, DateTimeOffset WindowStart, double PreviousWeight,
    int? AgentCallsPerMinute, int? ToolCallsPerMinute, int? OperationCallsPerMinute, int? RunMaxToolCalls, int? RunMaxRetries,
    double? RunMaxDuration, decimal Cost, DateOnly Day, decimal? DayLimit, decimal? RunLimit, DateTimeOffset ReservationExpiresAt,
    string Decision, string ReasonCode, string Reason, string? RuleId, string? PolicyVersion, JsonElement? Approval)
{
    /// <summary>Its place in the batch, by which the answer comes back (the database admits agent by agent).</summary>
    public int Ordinal { get; init; }
}

/// <summary>policy_admit's answer: "admitted", "stored", "duplicate" or the refusal, with what the refusal is worded from.</summary>
sealed record Admitted(string Result, string? FirstActionId, DateTime? RunStartedAt, int? Attempts, decimal? SpentUsd, decimal? ReservedUsd);

/// <summary>
/// Group commit for admissions: the proposals that wait for admission at the same moment go to
/// PostgreSQL together, in one call of policy_admit_batch (migration 0770) and one commit. Nothing
/// waits to fill a batch: a lone proposal goes at once, as a batch of one; under load a batch is
/// whatever gathered while the previous one was in the database. One batch is in the database at a
/// time per instance, which is all the database lets run across instances anyway.
///
/// A batch that fails as a whole (a deadlock with a transaction outside admission, a concurrent
/// instance that recorded one of its action ids first, a lost connection) has committed nothing; its
/// proposals are then admitted one by one, so one proposal's failure is that proposal's alone.
/// </summary>
sealed class AdmissionGroup(NpgsqlDataSource database, ILogger logger)
{
    /// <summary>
    /// Each admission is a subtransaction that writes, and PostgreSQL keeps the ids of 64 per
    /// transaction in shared memory; past that every concurrent snapshot gets slower.
    /// </summary>
    internal const int MaxBatch = 32;

    static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    sealed record Pending(AdmissionRequest Request)
    {
        public TaskCompletionSource<Admitted> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    readonly Lock _gate = new();
    readonly Queue<Pending> _waiting = new();
    bool _draining;

    public Task<Admitted> AdmitAsync(AdmissionRequest request, CancellationToken ct)
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
        // A consumer that gives up does not take its proposal out of a batch: if it was admitted, the
        // redelivered proposal finds it decided and replays the decision.
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
                batch = new(Math.Min(_waiting.Count, MaxBatch));
                while (batch.Count < MaxBatch && _waiting.TryDequeue(out var next))
                    batch.Add(next);
            }
            await AdmitTogetherAsync(batch);
        }
    }

    async Task AdmitTogetherAsync(List<Pending> batch)
    {
        try
        {
            var answers = await AdmitAllAsync(batch.ConvertAll(pending => pending.Request));
            for (var i = 0; i < batch.Count; i++)
                batch[i].Answer.TrySetResult(answers[i]);
            return;
        }
        catch (Exception failure) when (batch.Count > 1)
        {
            logger.LogWarning(failure, "An admission batch of {Count} proposals failed and committed nothing; admitting them one by one",
                batch.Count);
        }
        catch (Exception failure)
        {
            batch[0].Answer.TrySetException(failure);
            return;
        }

        foreach (var pending in batch)
        {
            try
            {
                pending.Answer.TrySetResult((await AdmitAllAsync([pending.Request]))[0]);
            }
            catch (Exception failure)
            {
                pending.Answer.TrySetException(failure);
            }
        }
    }

    /// <summary>Admits the requests in one transaction; the answers in the requests' order.</summary>
    internal async Task<Admitted[]> AdmitAllAsync(IReadOnlyList<AdmissionRequest> requests)
    {
        var json = JsonSerializer.Serialize(requests.Select((request, i) => request with { Ordinal = i }), Json);
        await using var connection = await database.OpenConnectionAsync();
        var rows = await connection.QueryAsync<(int Ordinal, string Result, string? FirstActionId, DateTime? RunStartedAt, int? Attempts,
            decimal? SpentUsd, decimal? ReservedUsd)>("""
            SELECT ordinal, result, first_action_id, run_started_at, attempts, spent_usd, reserved_usd
            FROM policy_admit_batch(CAST(@Requests AS jsonb))
            """, new { Requests = json });

        var answers = new Admitted?[requests.Count];
        foreach (var row in rows)
            answers[row.Ordinal] = new(row.Result, row.FirstActionId, row.RunStartedAt, row.Attempts, row.SpentUsd, row.ReservedUsd);
        AgentBusMetrics.AdmissionBatch(requests.Count);
        return Array.ConvertAll(answers, answer => answer
            ?? throw new InvalidOperationException("policy_admit_batch answered fewer requests than it was given."));
    }
}
