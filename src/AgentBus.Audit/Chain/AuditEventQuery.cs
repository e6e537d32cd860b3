using Npgsql;
using NpgsqlTypes;

namespace AgentBus.Audit.Chain;

/// <summary>Which audit rows to list; null means no filter.</summary>
public sealed record AuditEventFilter(
    string? EventType = null,
    string? AgentId = null,
    string? ActionId = null,
    string? RunId = null,
    DateTimeOffset? Since = null,
    int Limit = 100);

/// <summary>Recent audit rows, newest first: operator actions, refusals, anything without a run to tell.</summary>
public sealed class AuditEventQuery(NpgsqlDataSource dataSource)
{
    public async Task<IReadOnlyList<AuditRecord>> ListAsync(AuditEventFilter filter, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT {AuditRows.Columns} FROM audit_events
            WHERE (@type::text IS NULL OR event_type = @type)
              AND (@agent::text IS NULL OR agent_id = @agent)
              AND (@action::text IS NULL OR action_id = @action)
              AND (@run::text IS NULL OR run_id = @run)
              AND (@since::timestamptz IS NULL OR occurred_at >= @since)
            ORDER BY seq DESC
            LIMIT @limit
            """);
        command.Parameters.Add(new NpgsqlParameter<string?>("type", NpgsqlDbType.Text) { TypedValue = filter.EventType });
        command.Parameters.Add(new NpgsqlParameter<string?>("agent", NpgsqlDbType.Text) { TypedValue = filter.AgentId });
        command.Parameters.Add(new NpgsqlParameter<string?>("action", NpgsqlDbType.Text) { TypedValue = filter.ActionId });
        command.Parameters.Add(new NpgsqlParameter<string?>("run", NpgsqlDbType.Text) { TypedValue = filter.RunId });
        command.Parameters.Add(new NpgsqlParameter<DateTime?>("since", NpgsqlDbType.TimestampTz) { TypedValue = filter.Since?.UtcDateTime });
        command.Parameters.AddWithValue("limit", Math.Clamp(filter.Limit, 1, 10_000));

        var rows = new List<AuditRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            rows.Add(AuditRows.Read(reader));
        return rows;
    }
}
