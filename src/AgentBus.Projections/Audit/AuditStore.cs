using Dapper;
using Npgsql;

namespace AgentBus.Projections.Audit;

public sealed class AuditStore(NpgsqlDataSource dataSource)
{
    const string InsertEvent = """
        INSERT INTO audit_events (event_id, event_type, action_id, run_id, agent_id, tool, outcome, reason_code, payload, occurred_at)
        VALUES (@EventId, @EventType, @ActionId, @RunId, @AgentId, @Tool, @Outcome, @ReasonCode, CAST(@Payload AS jsonb), @OccurredAt)
        ON CONFLICT (event_id) DO NOTHING
        """;

    const string UpsertRun = """
        INSERT INTO run_summaries AS r (run_id, agent_id, first_event_at, last_event_at,
            actions_allowed, actions_denied, actions_pending, actions_succeeded, actions_failed, cost_usd)
        VALUES (@RunId, @AgentId, @OccurredAt, @OccurredAt, @Allowed, @Denied, @Pending, @Succeeded, @Failed, @CostUsd)
        ON CONFLICT (run_id, agent_id) DO UPDATE SET
            first_event_at    = LEAST(r.first_event_at, EXCLUDED.first_event_at),
            last_event_at     = GREATEST(r.last_event_at, EXCLUDED.last_event_at),
            actions_allowed   = r.actions_allowed   + EXCLUDED.actions_allowed,
            actions_denied    = r.actions_denied    + EXCLUDED.actions_denied,
            actions_pending   = r.actions_pending   + EXCLUDED.actions_pending,
            actions_succeeded = r.actions_succeeded + EXCLUDED.actions_succeeded,
            actions_failed    = r.actions_failed    + EXCLUDED.actions_failed,
            cost_usd          = r.cost_usd          + EXCLUDED.cost_usd
        """;

    /// <summary>
    /// Records the event once: the summary changes only when the audit row is new, in the same
    /// transaction, so a redelivered event changes nothing.
    /// </summary>
    public async Task<bool> RecordAsync(AuditEntry entry, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        var inserted = await connection.ExecuteAsync(new CommandDefinition(InsertEvent, entry, transaction, cancellationToken: cancellationToken));
        if (inserted == 1 && entry.RunId is not null && entry.AgentId is not null)
        {
            var change = entry.Change;
            await connection.ExecuteAsync(new CommandDefinition(UpsertRun, new
            {
                entry.RunId, entry.AgentId, entry.OccurredAt,
                change.Allowed, change.Denied, change.Pending, change.Succeeded, change.Failed, change.CostUsd,
            }, transaction, cancellationToken: cancellationToken));
        }

        await transaction.CommitAsync(cancellationToken);
        return inserted == 1;
    }
}
