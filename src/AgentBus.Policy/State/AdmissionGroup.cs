using System.Text.Json;
using AgentBus.ServiceDefaults.Database;
using Dapper;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace AgentBus.Policy.State;

/// <summary>
/// What policy_admit is asked for one proposal (one element of policy_admit_batch's argument), and the
/// signed command policy_admit_batch keeps for the audit when the proposal is admitted (migration 0780).
/// </summary>
sealed record AdmissionRequest(
    string ActionId, string AgentId, string RunId, string Tool, string? Operation, string ArgumentsHash, string? IdempotencyKey,
    DateTimeOffset Now, string? DedupeKey, DateTimeOffset DedupeExpiresAt, DateTimeOffset WindowStart, double PreviousWeight,
    int? AgentCallsPerMinute, int? ToolCallsPerMinute, int? OperationCallsPerMinute, int? RunMaxToolCalls, int? RunMaxRetries,
    double? RunMaxDuration, decimal Cost, DateOnly Day, decimal? DayLimit, decimal? RunLimit, DateTimeOffset ReservationExpiresAt,
    string Decision, string ReasonCode, string Reason, string? RuleId, string? PolicyVersion, JsonElement? Approval,
    Guid? CommandMessageId, string? CommandCorrelationId, string? Command);

/// <summary>policy_admit's answer: "admitted", "stored", "duplicate" or the refusal, with what the refusal is worded from.</summary>
sealed record Admitted(string Result, string? FirstActionId, DateTime? RunStartedAt, int? Attempts, decimal? SpentUsd, decimal? ReservedUsd);

/// <summary>
/// Admissions by group commit (<see cref="GroupCommit{TRequest,TAnswer}"/>): the proposals that wait
/// for admission at the same moment share one call of policy_admit_batch (migration 0770), one
/// transaction and one commit. A batch that fails as a whole (a deadlock PostgreSQL broke, a
/// concurrent instance that recorded one of its action ids first, a lost connection) is admitted one
/// proposal at a time.
/// </summary>
sealed class AdmissionGroup
{
    /// <summary>
    /// Each admission is a subtransaction that writes, and PostgreSQL keeps the ids of 64 per
    /// transaction in shared memory; past that every concurrent snapshot gets slower.
    /// </summary>
    internal const int MaxBatch = 32;

    readonly NpgsqlDataSource _database;
    readonly GroupCommit<AdmissionRequest, Admitted> _group;

    public AdmissionGroup(NpgsqlDataSource database, ILogger logger)
    {
        _database = database;
        _group = new("admission", AdmitTogetherAsync, MaxBatch, logger);
    }

    public Task<Admitted> AdmitAsync(AdmissionRequest request, CancellationToken ct) => _group.CommitAsync(request, ct);

    async Task<Admitted[]> AdmitTogetherAsync(IReadOnlyList<AdmissionRequest> requests)
    {
        await using var connection = await _database.OpenConnectionAsync();
        var rows = await connection.QueryAsync<(long Ordinal, string Result, string? FirstActionId, DateTime? RunStartedAt, int? Attempts,
            decimal? SpentUsd, decimal? ReservedUsd)>("""
            SELECT ordinal, result, first_action_id, run_started_at, attempts, spent_usd, reserved_usd
            FROM policy_admit_batch(CAST(@Requests AS jsonb))
            """, new { Requests = BatchRows.ToJson(requests) });
        return BatchRows.InRequestOrder(requests.Count, rows.Select(row =>
            (row.Ordinal, new Admitted(row.Result, row.FirstActionId, row.RunStartedAt, row.Attempts, row.SpentUsd, row.ReservedUsd))));
    }
}
