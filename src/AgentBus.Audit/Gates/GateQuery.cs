using System.Data;
using Npgsql;
using NpgsqlTypes;

namespace AgentBus.Audit.Gates;

/// <summary>A grant from the policy in force, and whether it makes a human approve each use.</summary>
public sealed record GrantInfo(string AgentId, string Tool, bool RequiresApproval);

/// <summary>
/// Gathers <see cref="GateFacts"/> from the audit log and run summaries. Definitions:
/// a run counts once its agent reported its end, or once it has been idle for the configured time
/// (then as not successful); an action is a write unless its tool is read-only or its HTTP method
/// is a read method; a critical error is a write whose outcome is failed or unknown (an executor
/// refusing to run it is not); an execution is an action that was authorized, started or has an
/// outcome, and it is covered when its proposal, its "allowed" decision, its authorization and its
/// outcome are all in the audit. Actions and runs are in the window by their first event; a run
/// with no action at all (only a report) is not counted, so reports alone cannot move the rates.
/// </summary>
public sealed class GateQuery(NpgsqlDataSource dataSource)
{
    const string Actions = """
        WITH actions AS (
            SELECT e.action_id, e.agent_id, e.tool, min(e.run_id) AS run_id,
                   bool_or(e.event_type = 'ActionProposed') AS proposed,
                   bool_or(e.event_type = 'ActionDecided' AND e.outcome = 'allowed') AS allowed,
                   bool_or(e.event_type = 'ExecuteTool') AS authorized,
                   min(e.occurred_at) FILTER (WHERE e.event_type = 'ExecuteTool') AS authorized_at,
                   bool_or(e.event_type IN ('ActionSucceeded', 'ActionFailed')) AS has_outcome,
                   bool_or(e.event_type = 'ActionFailed' AND e.outcome IN ('failed', 'outcome_unknown')) AS critical,
                   bool_or(e.event_type IN ('ExecutionStarted', 'ActionSucceeded', 'ActionFailed')) AS executed,
                   max(upper(e.payload::jsonb #>> '{arguments,method}')) FILTER (WHERE e.event_type = 'ExecuteTool') AS method,
                   coalesce(sum(e.cost_usd) FILTER (WHERE e.event_type = 'ActionSucceeded'), 0) AS cost
            FROM audit_events e
            WHERE e.action_id IS NOT NULL AND e.agent_id IS NOT NULL AND e.tool IS NOT NULL
              AND e.occurred_at >= @since - interval '1 day'
              AND e.occurred_at < @until + interval '1 day'
              AND (@agent::text IS NULL OR e.agent_id = @agent)
              AND (@tool::text IS NULL OR e.tool = @tool)
            GROUP BY e.action_id, e.agent_id, e.tool
            HAVING min(e.occurred_at) >= @since AND min(e.occurred_at) < @until
        ),
        classified AS (
            SELECT a.*,
                   (a.authorized_at IS NOT NULL AND NOT a.has_outcome AND a.authorized_at > now() - @grace) AS in_flight,
                   (NOT (a.tool = ANY(@read_only_tools)) AND (a.method IS NULL OR NOT (a.method = ANY(@read_methods)))) AS is_write
            FROM actions a
        ),
        runs AS (
            SELECT s.run_id, s.agent_id, (s.completed_at IS NOT NULL AND s.succeeded) AS ok, s.cost_usd
            FROM run_summaries s
            WHERE s.first_event_at >= @since AND s.first_event_at < @until
              AND (@agent::text IS NULL OR s.agent_id = @agent)
              AND (s.completed_at IS NOT NULL OR s.last_event_at < now() - @idle)
              -- A run is work done through AgentBus: a report alone (no action) does not make one.
              AND s.actions_proposed + s.actions_allowed + s.actions_denied + s.actions_pending + s.actions_authorized
                  + s.actions_succeeded + s.actions_failed > 0
        )
        """;

    public Task<IReadOnlyList<GateFacts>> GetAsync(DateTimeOffset since, string? agentId, string? tool, GateConfig config,
        IReadOnlyCollection<GrantInfo> grants, CancellationToken cancellationToken = default) =>
        GetAsync(since, null, agentId, tool, config, grants, cancellationToken);

    /// <summary>The facts of the actions and runs that began in [<paramref name="since"/>, <paramref name="until"/>) (until: open-ended when null), as for a trend.</summary>
    public async Task<IReadOnlyList<GateFacts>> GetAsync(DateTimeOffset since, DateTimeOffset? until, string? agentId, string? tool, GateConfig config,
        IReadOnlyCollection<GrantInfo> grants, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);

        var rows = new Dictionary<(string Agent, string? Tool), Builder>();
        Builder Row(string agent, string? t)
        {
            if (!rows.TryGetValue((agent, t), out var row))
                rows[(agent, t)] = row = new Builder(agent, t);
            return row;
        }

        await ReadAsync(connection, transaction, since, until, agentId, tool, config, Actions + """
            SELECT agent_id, tool,
                   count(*) FILTER (WHERE (authorized OR executed) AND NOT in_flight)::int,
                   count(*) FILTER (WHERE (authorized OR executed) AND NOT in_flight AND proposed AND allowed AND authorized AND has_outcome)::int,
                   count(*) FILTER (WHERE authorized AND is_write AND NOT in_flight)::int,
                   count(*) FILTER (WHERE authorized AND is_write AND critical)::int
            FROM classified GROUP BY agent_id, tool
            """, reader =>
        {
            var row = Row(reader.GetString(0), reader.GetString(1));
            row.Executions = reader.GetInt32(2);
            row.Complete = reader.GetInt32(3);
            row.Writes = reader.GetInt32(4);
            row.Critical = reader.GetInt32(5);
        }, cancellationToken);

        await ReadAsync(connection, transaction, since, until, agentId, tool, config, Actions + """
            SELECT a.agent_id, a.tool, count(DISTINCT a.run_id)::int, count(DISTINCT a.run_id) FILTER (WHERE r.ok)::int, coalesce(sum(a.cost), 0)
            FROM classified a JOIN runs r ON r.run_id = a.run_id AND r.agent_id = a.agent_id
            GROUP BY a.agent_id, a.tool
            """, reader =>
        {
            var row = Row(reader.GetString(0), reader.GetString(1));
            row.Runs = reader.GetInt32(2);
            row.Successful = reader.GetInt32(3);
            row.Cost = reader.GetDecimal(4);
        }, cancellationToken);

        if (tool is null)
            await ReadAsync(connection, transaction, since, until, agentId, tool, config, Actions + """
                SELECT agent_id, count(*)::int, count(*) FILTER (WHERE ok)::int, coalesce(sum(cost_usd), 0) FROM runs GROUP BY agent_id
                """, reader =>
            {
                var row = Row(reader.GetString(0), null);
                row.Runs = reader.GetInt32(1);
                row.Successful = reader.GetInt32(2);
                row.Cost = reader.GetDecimal(3);
            }, cancellationToken);

        await transaction.CommitAsync(cancellationToken);

        var readOnly = config.ReadOnlyTools.ToHashSet(StringComparer.Ordinal);
        foreach (var grant in grants)
        {
            if ((agentId is not null && grant.AgentId != agentId) || (tool is not null && grant.Tool != tool))
                continue;
            if (!readOnly.Contains(grant.Tool) && !grant.RequiresApproval)
                Row(grant.AgentId, grant.Tool).UnapprovedGrants++;
        }

        // The agent's row adds up its tools (runs, successes and cost come from the run summaries).
        if (tool is null)
            foreach (var agent in rows.Keys.Select(k => k.Agent).Distinct().ToList())
            {
                var total = Row(agent, null);
                foreach (var perTool in rows.Values.Where(r => r.Agent == agent && r.Tool is not null))
                {
                    total.Executions += perTool.Executions;
                    total.Complete += perTool.Complete;
                    total.Writes += perTool.Writes;
                    total.Critical += perTool.Critical;
                    total.UnapprovedGrants += perTool.UnapprovedGrants;
                }
            }

        return rows.Values.Select(r => r.Build()).ToList();
    }

    static async Task ReadAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, DateTimeOffset since, DateTimeOffset? until, string? agentId, string? tool,
        GateConfig config, string sql, Action<NpgsqlDataReader> read, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<DateTime>("since", NpgsqlDbType.TimestampTz) { TypedValue = since.UtcDateTime });
        command.Parameters.Add(new NpgsqlParameter<DateTime>("until", NpgsqlDbType.TimestampTz) { TypedValue = until?.UtcDateTime ?? DateTime.MaxValue });
        command.Parameters.Add(new NpgsqlParameter<string?>("agent", NpgsqlDbType.Text) { TypedValue = agentId });
        command.Parameters.Add(new NpgsqlParameter<string?>("tool", NpgsqlDbType.Text) { TypedValue = tool });
        command.Parameters.Add(new NpgsqlParameter<TimeSpan>("grace", NpgsqlDbType.Interval) { TypedValue = config.OutcomeGraceSpan });
        command.Parameters.Add(new NpgsqlParameter<TimeSpan>("idle", NpgsqlDbType.Interval) { TypedValue = config.RunIdleSpan });
        command.Parameters.Add(new NpgsqlParameter<string[]>("read_only_tools", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = config.ReadOnlyTools.ToArray() });
        command.Parameters.Add(new NpgsqlParameter<string[]>("read_methods", NpgsqlDbType.Array | NpgsqlDbType.Text)
        {
            TypedValue = config.ReadMethods.Select(m => m.ToUpperInvariant()).ToArray(),
        });
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            read(reader);
    }

    sealed class Builder(string agent, string? tool)
    {
        public string Agent { get; } = agent;
        public string? Tool { get; } = tool;
        public int Runs, Successful, Writes, Critical, Executions, Complete, UnapprovedGrants;
        public decimal Cost;

        public GateFacts Build() => new(Agent, Tool, Runs, Successful, Cost, Writes, Critical, Executions, Complete, UnapprovedGrants);
    }
}
