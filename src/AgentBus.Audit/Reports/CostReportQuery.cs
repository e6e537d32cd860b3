using Npgsql;

namespace AgentBus.Audit.Reports;

/// <summary>
/// Cost per agent and day (UTC, by the day a run started). A run's cost is what the policy service's
/// cost ledger settled for it: tool calls at the executor's actual cost and the inference spend the
/// agent reported (reservations still open and released ones do not count). Cost per successful run divides
/// everything the agent's runs cost, failed ones included, by the runs the agent reported successful:
/// what one success really costs. Runs with no action at all (only a report) are left out.
/// </summary>
public sealed record CostRow(string AgentId, DateOnly Day, int Runs, int SuccessfulRuns, int FailedRuns, int UnreportedRuns, decimal CostUsd)
{
    public decimal? CostPerSuccessfulRunUsd => SuccessfulRuns == 0 ? null : Math.Round(CostUsd / SuccessfulRuns, 6);
}

public sealed record CostReport(IReadOnlyList<CostRow> Days, IReadOnlyList<CostRow> AgentTotals, CostRow Total);

public sealed class CostReportQuery(NpgsqlDataSource dataSource)
{
    public async Task<CostReport> GetAsync(string? agentId, DateTimeOffset? since, DateTimeOffset? until, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            WITH settled AS (
                SELECT agent_id, run_id, sum(amount_usd) AS cost
                FROM cost_ledger
                WHERE status = 'settled'
                GROUP BY agent_id, run_id)
            SELECT r.agent_id, (r.first_event_at AT TIME ZONE 'UTC')::date AS day,
                   count(*)::int AS runs,
                   count(*) FILTER (WHERE r.completed_at IS NOT NULL AND r.succeeded)::int AS successful,
                   count(*) FILTER (WHERE r.completed_at IS NOT NULL AND NOT r.succeeded)::int AS failed,
                   count(*) FILTER (WHERE r.completed_at IS NULL)::int AS unreported,
                   coalesce(sum(s.cost), 0) AS cost
            FROM run_summaries r
            LEFT JOIN settled s ON s.agent_id = r.agent_id AND s.run_id = r.run_id
            WHERE (@agent::text IS NULL OR r.agent_id = @agent)
              AND (@since::timestamptz IS NULL OR r.first_event_at >= @since)
              AND (@until::timestamptz IS NULL OR r.first_event_at < @until)
              AND (r.actions_proposed + r.actions_allowed + r.actions_denied + r.actions_pending + r.actions_authorized
                   + r.actions_succeeded + r.actions_failed > 0 OR s.cost IS NOT NULL)
            GROUP BY r.agent_id, day
            ORDER BY day, r.agent_id
            """);
        command.Parameters.Add(new NpgsqlParameter<string?>("agent", NpgsqlTypes.NpgsqlDbType.Text) { TypedValue = agentId });
        command.Parameters.Add(new NpgsqlParameter<DateTime?>("since", NpgsqlTypes.NpgsqlDbType.TimestampTz) { TypedValue = since?.UtcDateTime });
        command.Parameters.Add(new NpgsqlParameter<DateTime?>("until", NpgsqlTypes.NpgsqlDbType.TimestampTz) { TypedValue = until?.UtcDateTime });

        var days = new List<CostRow>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            while (await reader.ReadAsync(cancellationToken))
                days.Add(new CostRow(reader.GetString(0), reader.GetFieldValue<DateOnly>(1), reader.GetInt32(2), reader.GetInt32(3),
                    reader.GetInt32(4), reader.GetInt32(5), reader.GetDecimal(6)));

        var totals = days.GroupBy(d => d.AgentId).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => Sum(g.Key, g)).ToList();
        return new CostReport(days, totals, Sum("(all agents)", days));
    }

    static CostRow Sum(string agent, IEnumerable<CostRow> rows)
    {
        var list = rows.ToList();
        return new CostRow(agent, list.Count == 0 ? DateOnly.MinValue : list.Min(r => r.Day), list.Sum(r => r.Runs), list.Sum(r => r.SuccessfulRuns),
            list.Sum(r => r.FailedRuns), list.Sum(r => r.UnreportedRuns), list.Sum(r => r.CostUsd));
    }
}
