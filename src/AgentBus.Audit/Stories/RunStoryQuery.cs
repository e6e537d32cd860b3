using AgentBus.Audit.Chain;
using AgentBus.Contracts;
using Npgsql;

namespace AgentBus.Audit.Stories;

/// <summary>
/// Reads one run's story. Used by <c>agentbus runs show</c> and by the approval service, which
/// serves the same <see cref="RunStory"/> as JSON. Needs SELECT on audit_events and run_summaries.
/// </summary>
public sealed class RunStoryQuery(NpgsqlDataSource dataSource)
{
    /// <summary>Null when the audit knows nothing of the run.</summary>
    public async Task<RunStory?> GetAsync(string runId, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        var story = await ReadAsync(connection, transaction, runId, cancellationToken);
        // A run's rollback (agentbus runs rollback) is a run of its own, told beside it.
        if (story is not null && !runId.StartsWith(RollbackRuns.Prefix, StringComparison.Ordinal))
            story = story with { Rollback = await ReadAsync(connection, transaction, RollbackRuns.For(runId), cancellationToken) };
        await transaction.CommitAsync(cancellationToken);
        return story;
    }

    static async Task<RunStory?> ReadAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string runId, CancellationToken cancellationToken)
    {

        var rows = new List<AuditRecord>();
        await using (var command = new NpgsqlCommand($"SELECT {AuditRows.Columns} FROM audit_events WHERE run_id = @run ORDER BY seq", connection, transaction))
        {
            command.Parameters.AddWithValue("run", runId);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
                rows.Add(AuditRows.Read(reader));
        }

        var agents = new List<RunAgent>();
        await using (var command = new NpgsqlCommand("""
            SELECT agent_id, first_event_at, last_event_at, succeeded, completed_at, completion_summary, cost_usd
            FROM run_summaries WHERE run_id = @run ORDER BY first_event_at
            """, connection, transaction))
        {
            command.Parameters.AddWithValue("run", runId);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
                agents.Add(new RunAgent(reader.GetString(0), AuditRows.Utc(reader.GetDateTime(1)), AuditRows.Utc(reader.GetDateTime(2)),
                    reader.IsDBNull(3) ? null : reader.GetBoolean(3),
                    reader.IsDBNull(4) ? null : AuditRows.Utc(reader.GetDateTime(4)),
                    reader.IsDBNull(5) ? null : reader.GetString(5),
                    reader.GetDecimal(6)));
        }

        return RunStoryBuilder.Build(runId, rows, agents);
    }
}
