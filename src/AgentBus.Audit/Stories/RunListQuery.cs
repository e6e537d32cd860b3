using AgentBus.Audit.Chain;
using Npgsql;

namespace AgentBus.Audit.Stories;

public static class RunStatuses
{
    /// <summary>The agent has not reported the end of the run yet.</summary>
    public const string Running = "running";

    public const string Succeeded = "succeeded";
    public const string Failed = "failed";

    public static readonly IReadOnlyList<string> All = [Running, Succeeded, Failed];
}

/// <summary>Which runs to list; null means no filter. Times compare with the run's first event.</summary>
public sealed record RunListFilter(string? AgentId = null, string? Status = null, DateTimeOffset? Since = null, DateTimeOffset? Until = null, int Limit = 50);

/// <summary>One agent's part in one run, as <c>agentbus runs list</c> prints it.</summary>
public sealed record RunListItem(
    string RunId,
    string AgentId,
    string Status,
    DateTimeOffset FirstEventAt,
    DateTimeOffset LastEventAt,
    int Proposed,
    int Allowed,
    int Denied,
    int PendingApproval,
    int Succeeded,
    int Failed,
    int OutcomeUnknown,
    decimal CostUsd,
    DateTimeOffset? CompletedAt,
    string? Summary);

public sealed class RunListQuery(NpgsqlDataSource dataSource)
{
    public async Task<IReadOnlyList<RunListItem>> ListAsync(RunListFilter filter, CancellationToken cancellationToken = default)
    {
        if (filter.Status is not null && !RunStatuses.All.Contains(filter.Status))
            throw new ArgumentException($"Unknown run status '{filter.Status}' (known: {string.Join(", ", RunStatuses.All)}).", nameof(filter));

        await using var command = dataSource.CreateCommand("""
            SELECT run_id, agent_id,
                   CASE WHEN completed_at IS NULL THEN 'running' WHEN succeeded THEN 'succeeded' ELSE 'failed' END AS status,
                   first_event_at, last_event_at, actions_proposed, actions_allowed, actions_denied, actions_pending,
                   actions_succeeded, actions_failed, actions_outcome_unknown, cost_usd, completed_at, completion_summary
            FROM run_summaries
            WHERE (@agent::text IS NULL OR agent_id = @agent)
              AND (@since::timestamptz IS NULL OR first_event_at >= @since)
              AND (@until::timestamptz IS NULL OR first_event_at < @until)
              AND (@status::text IS NULL
                   OR (@status = 'running' AND completed_at IS NULL)
                   OR (@status = 'succeeded' AND completed_at IS NOT NULL AND succeeded)
                   OR (@status = 'failed' AND completed_at IS NOT NULL AND NOT succeeded))
            ORDER BY last_event_at DESC, run_id, agent_id
            LIMIT @limit
            """);
        command.Parameters.Add(new NpgsqlParameter<string?>("agent", NpgsqlTypes.NpgsqlDbType.Text) { TypedValue = filter.AgentId });
        command.Parameters.Add(new NpgsqlParameter<string?>("status", NpgsqlTypes.NpgsqlDbType.Text) { TypedValue = filter.Status });
        command.Parameters.Add(new NpgsqlParameter<DateTime?>("since", NpgsqlTypes.NpgsqlDbType.TimestampTz) { TypedValue = filter.Since?.UtcDateTime });
        command.Parameters.Add(new NpgsqlParameter<DateTime?>("until", NpgsqlTypes.NpgsqlDbType.TimestampTz) { TypedValue = filter.Until?.UtcDateTime });
        command.Parameters.AddWithValue("limit", Math.Clamp(filter.Limit, 1, 10_000));

        var items = new List<RunListItem>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            items.Add(new RunListItem(reader.GetString(0), reader.GetString(1), reader.GetString(2),
                AuditRows.Utc(reader.GetDateTime(3)), AuditRows.Utc(reader.GetDateTime(4)),
                reader.GetInt32(5), reader.GetInt32(6), reader.GetInt32(7), reader.GetInt32(8), reader.GetInt32(9), reader.GetInt32(10),
                reader.GetInt32(11), reader.GetDecimal(12),
                reader.IsDBNull(13) ? null : AuditRows.Utc(reader.GetDateTime(13)),
                reader.IsDBNull(14) ? null : reader.GetString(14)));
        return items;
    }
}
