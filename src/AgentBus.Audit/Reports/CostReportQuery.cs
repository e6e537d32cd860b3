using Npgsql;

namespace AgentBus.Audit.Reports;

/// <summary>
/// Cost per agent and day (UTC, by the day a run started). A run's cost is what its tool calls cost
/// (ActionSucceeded.CostUsd, summed per run by the projections). Cost per successful run divides
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
            SELECT agent_id, (first_event_at AT TIME ZONE 'UTC')::date AS day,
                   count(*)::int AS runs,
                   count(*) FILTER (WHERE completed_at IS NOT NULL AND succeeded)::int AS successful,
                   count(*) FILTER (WHERE completed_at IS NOT NULL AND NOT succeeded)::int AS failed,
                   count(*) FILTER (WHERE completed_at IS NULL)::int AS unreported,
                   coalesce(sum(cost_usd), 0) AS cost
            FROM run_summaries
            WHERE (@agent::text IS NULL OR agent_id = @agent)
              AND (@since::timestamptz IS NULL OR first_event_at >= @since)
              AND (@until::timestamptz IS NULL OR first_event_at < @until)
              AND actions_proposed + actions_allowed + actions_denied + actions_pending + actions_authorized
                  + actions_succeeded + actions_failed > 0
            GROUP BY agent_id, day
            ORDER BY day, agent_id
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
