using Npgsql;

namespace AgentBus.ConsoleBench;

/// <summary>How much data a figure was measured against.</summary>
static class TableCounts
{
    static readonly string[] Tables =
    [
        "audit_events", "run_summaries", "policy_actions", "policy_runs", "policy_approvals", "cost_ledger", "budget_usage",
        "execution_claims", "policy_rate_windows", "dead_letter_archive",
    ];

    public static async Task<IReadOnlyList<(string Table, long Rows)>> ReadAsync(NpgsqlDataSource dataSource, CancellationToken ct)
    {
        var counts = new List<(string, long)>();
        foreach (var table in Tables)
        {
            await using var command = dataSource.CreateCommand($"SELECT count(*) FROM {table}");
            counts.Add((table, (long)(await command.ExecuteScalarAsync(ct))!));
        }
        return counts;
    }
}
