using System.Text.Json;
using AgentBus.Contracts;
using Dapper;
using Npgsql;

namespace AgentBus.Policy.Rollback;

/// <summary>
/// One action as policy_actions holds it, in the terms rollback needs: what was decided, how it ended,
/// its result (the stored first outcome) and, when its compensation reads them, its arguments.
/// </summary>
public sealed record UndoRecord(
    string ActionId,
    string AgentId,
    string RunId,
    string Tool,
    string? Operation,
    string Decision,
    string ReasonCode,
    string Reason,
    string? DuplicateOf,
    DateTime DecidedAt,
    string? Outcome,
    string? OutcomeType,
    string? OutcomePayload,
    string? UndoArguments)
{
    /// <summary>payments.refund (policy_actions.operation holds the full name), or the generic tool.</summary>
    public string Subject => Operation ?? Tool;

    public UndoState State => this switch
    {
        { OutcomeType: nameof(ActionSucceeded) } => UndoState.Succeeded,
        { Outcome: "outcome_unknown" } => UndoState.OutcomeUnknown,
        { Decision: "denied" } or { Outcome: "failed" } => UndoState.NoEffect,
        _ => UndoState.InProgress,
    };

    /// <summary>ActionSucceeded.Result as the executor reported it ({"status": …, "body": …} for HTTP operations).</summary>
    public JsonElement Result =>
        OutcomePayload is not null && OutcomeType == nameof(ActionSucceeded) &&
        JsonDocument.Parse(OutcomePayload).RootElement.TryGetProperty("result", out var result)
            ? result.Clone()
            : default;

    /// <summary>The original arguments, when kept (see migration 0730); an empty object otherwise.</summary>
    public JsonElement Arguments => UndoArguments is null ? EmptyObject : JsonDocument.Parse(UndoArguments).RootElement.Clone();

    static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement.Clone();
}

/// <summary>How an action (an original or a compensation attempt) stands, as far as undoing is concerned.</summary>
public enum UndoState
{
    /// <summary>Never proposed (an attempt not made yet).</summary>
    Absent,

    /// <summary>Decided and not yet ended: waiting for approval, queued or running.</summary>
    InProgress,

    /// <summary>Ended without a side effect: denied (by policy or an approver, or expired) or failed.</summary>
    NoEffect,

    Succeeded,

    /// <summary>The side effect may have happened; a person resolves it (agentbus actions resolve).</summary>
    OutcomeUnknown,
}

/// <summary>Reads policy_actions for rollback; used by the policy service's check and by <c>agentbus runs rollback</c>.</summary>
public sealed class UndoRecords(NpgsqlDataSource database)
{
    const string Columns = """
        action_id AS ActionId, agent_id AS AgentId, run_id AS RunId, tool AS Tool, operation AS Operation, decision AS Decision,
        reason_code AS ReasonCode, reason AS Reason, duplicate_of AS DuplicateOf, decided_at AS DecidedAt, outcome AS Outcome,
        outcome_type AS OutcomeType, policy_outcome_payload(action_id) AS OutcomePayload, undo_arguments::text AS UndoArguments
        """;

    public async Task<IReadOnlyDictionary<string, UndoRecord>> GetAsync(IReadOnlyCollection<string> actionIds, CancellationToken ct)
    {
        await using var connection = await database.OpenConnectionAsync(ct);
        var rows = await connection.QueryAsync<UndoRecord>(new CommandDefinition(
            $"SELECT {Columns} FROM policy_actions WHERE action_id = ANY(@Ids)", new { Ids = actionIds.ToArray() }, cancellationToken: ct));
        return rows.ToDictionary(r => r.ActionId, StringComparer.Ordinal);
    }

    /// <summary>Every action of the run (all its agents), oldest decision first; repeats of another action are left out (nothing ran for them).</summary>
    public async Task<IReadOnlyList<UndoRecord>> GetRunAsync(string runId, CancellationToken ct)
    {
        await using var connection = await database.OpenConnectionAsync(ct);
        return (await connection.QueryAsync<UndoRecord>(new CommandDefinition(
            $"SELECT {Columns} FROM policy_actions WHERE run_id = @RunId AND duplicate_of IS NULL ORDER BY decided_at, action_id",
            new { RunId = runId }, cancellationToken: ct))).ToList();
    }

    /// <summary>The attempts at undoing <paramref name="originalActionId"/>, in order, up to the first never proposed.</summary>
    public async Task<IReadOnlyList<UndoRecord>> GetAttemptsAsync(string originalActionId, CancellationToken ct)
    {
        var ids = Enumerable.Range(1, Compensations.MaxAttempts).Select(n => Compensations.ActionId(originalActionId, n)).ToList();
        var found = await GetAsync(ids, ct);
        var attempts = new List<UndoRecord>();
        foreach (var id in ids)
        {
            if (!found.TryGetValue(id, out var attempt))
                break;
            attempts.Add(attempt);
        }
        return attempts;
    }

    /// <summary>Keeps an admitted action's arguments for its compensation (see migration 0730); a repeat changes nothing.</summary>
    public async Task KeepArgumentsAsync(string actionId, JsonElement arguments, CancellationToken ct)
    {
        await using var connection = await database.OpenConnectionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE policy_actions SET undo_arguments = CAST(@Arguments AS jsonb) WHERE action_id = @ActionId AND undo_arguments IS NULL",
            new { ActionId = actionId, Arguments = arguments.GetRawText() }, cancellationToken: ct));
    }
}
