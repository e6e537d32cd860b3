using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.Policy.Engine;
using AgentBus.ServiceDefaults.Messaging;
using Dapper;
using Npgsql;

namespace AgentBus.Policy.State;

/// <summary>
/// What became of a resolution: <see cref="Outcome"/> is the action's resolved outcome (now or earlier), to publish, and
/// <see cref="Copies"/> the same for each duplicate of the action that had been sent its unknown outcome.
/// </summary>
public sealed record ResolutionResult(string Status, StoredOutcome? Outcome, string? ResolvedBy = null, IReadOnlyList<StoredOutcome>? Copies = null)
{
    public const string Resolved = "resolved";
    public const string AlreadyResolved = "already_resolved";
    public const string NotUnknown = "not_unknown";
    public const string Duplicate = "duplicate";
    public const string NotFound = "not_found";
}

/// <summary>
/// Records an operator's resolution of an outcome-unknown action (policy_resolve_outcome, migration
/// 0741): the resolved outcome becomes the action's first outcome, shaped as an executor would have
/// reported it (a succeeded one carries the result the system of record shows), and the estimate the
/// unknown outcome settled stays spent (succeeded) or is given back (failed). Once per action.
/// </summary>
public sealed class OutcomeResolutions(NpgsqlDataSource database)
{
    sealed record ActionRow(string AgentId, string RunId, string Tool, string? Outcome, string? OutcomePayload, decimal? ChargedUsd);

    public async Task<ResolutionResult> ResolveAsync(ResolveRequest request, DateTimeOffset resolvedAt, CancellationToken ct)
    {
        await using var connection = await database.OpenConnectionAsync(ct);
        // Not strict: a person checked the system of record, and the unknown outcome gives only its
        // duration and attempts, so a claim changed since it was settled does not hold the resolution up.
        var action = await connection.QuerySingleOrDefaultAsync<ActionRow>(new CommandDefinition("""
            SELECT a.agent_id AS AgentId, a.run_id AS RunId, a.tool AS Tool, a.outcome AS Outcome, policy_outcome_payload(a.action_id, p_strict => false) AS OutcomePayload,
                   CASE c.status WHEN 'settled' THEN c.amount_usd WHEN 'reserved' THEN c.reserved_usd END AS ChargedUsd
              FROM policy_actions a LEFT JOIN cost_ledger c ON c.action_id = a.action_id
             WHERE a.action_id = @ActionId
            """, new { request.ActionId }, cancellationToken: ct));
        if (action is null)
            return new(ResolutionResult.NotFound, null);

        var (outcome, type, payload) = Build(request, action, resolvedAt);
        var rows = (await connection.QueryAsync<(string Status, string? Type, string? Payload, string? ResolvedBy)>(new CommandDefinition(
            "SELECT status, outcome_type, outcome_payload::text, resolved_by FROM policy_resolve_outcome(@ActionId, @Outcome, @Type, CAST(@Payload AS jsonb), @Operator, @Now)",
            new { request.ActionId, Outcome = outcome, Type = type, Payload = payload, request.Operator, Now = resolvedAt }, cancellationToken: ct))).ToList();
        var row = rows[0];
        var copies = rows.Skip(1).Where(r => r.Type is not null && r.Payload is not null).Select(r => new StoredOutcome(r.Type!, r.Payload!)).ToList();
        return new(row.Status, row.Type is not null && row.Payload is not null ? new StoredOutcome(row.Type, row.Payload) : null, row.ResolvedBy, copies);
    }

    /// <summary>The outcome an executor would have published had it known, from the unknown one it replaces.</summary>
    static (string Outcome, string Type, string Payload) Build(ResolveRequest request, ActionRow action, DateTimeOffset resolvedAt)
    {
        ActionFailed? unknown = null;
        if (action.Outcome == "outcome_unknown" && action.OutcomePayload is { } stored)
        {
            try
            {
                unknown = JsonSerializer.Deserialize<ActionFailed>(stored, WireJson.Options);
            }
            catch (JsonException)
            {
                // Durations and attempts are then 0; the resolution itself does not depend on them.
            }
        }
        var duration = unknown?.DurationMs ?? 0;
        var attempts = unknown?.Attempts ?? 0;
        if (request.Succeeded)
        {
            var result = request.Result ?? ResolveRequest.NoRecordedResult;
            var succeeded = new ActionSucceeded(request.ActionId, action.RunId, action.AgentId, action.Tool, result, request.ExternalReference,
                action.ChargedUsd ?? 0m, duration, attempts, resolvedAt, ResolvedBy: request.Operator, Evidence: request.Evidence);
            return ("succeeded", nameof(ActionSucceeded), JsonSerializer.Serialize(succeeded, WireJson.Options));
        }
        var failed = new ActionFailed(request.ActionId, action.RunId, action.AgentId, action.Tool, ExecutionErrorCodes.ResolvedFailed,
            "An operator checked the system of record: the action did not happen.", false, duration, attempts, resolvedAt,
            ResolvedBy: request.Operator, Evidence: request.Evidence);
        return ("failed", nameof(ActionFailed), JsonSerializer.Serialize(failed, WireJson.Options));
    }
}
