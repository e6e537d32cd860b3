using Dapper;
using Npgsql;

namespace AgentBus.Approvals.RunStory;

/// <summary>The run's story from the audit log (audit_events), the first steps up to the limit.</summary>
public sealed class AuditRunStory(NpgsqlDataSource dataSource) : IRunStory
{
    public async Task<IReadOnlyList<RunStoryEntry>> ForRunAsync(string runId, int limit, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rows = await connection.QueryAsync<Row>(new CommandDefinition("""
            SELECT seq AS Seq, event_type AS EventType, action_id AS ActionId, agent_id AS AgentId, tool AS Tool,
                   outcome AS Outcome, reason_code AS ReasonCode, occurred_at AS OccurredAt
            FROM audit_events WHERE run_id = @RunId ORDER BY seq LIMIT @Limit
            """, new { RunId = runId, Limit = limit }, cancellationToken: cancellationToken));
        return rows.Select(r => new RunStoryEntry(r.Seq, r.EventType, r.ActionId, r.AgentId, r.Tool, r.Outcome, r.ReasonCode,
            new DateTimeOffset(DateTime.SpecifyKind(r.OccurredAt, DateTimeKind.Utc)))).ToList();
    }

    sealed class Row
    {
        public long Seq { get; set; }
        public string EventType { get; set; } = "";
        public string? ActionId { get; set; }
        public string? AgentId { get; set; }
        public string? Tool { get; set; }
        public string Outcome { get; set; } = "";
        public string? ReasonCode { get; set; }
        public DateTime OccurredAt { get; set; }
    }
}
