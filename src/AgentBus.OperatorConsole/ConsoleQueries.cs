using System.Globalization;
using Dapper;
using Npgsql;

namespace AgentBus.OperatorConsole;

public sealed record LiveSuspension(string Kind, string Name, string SuspendedBy, string? Reason, DateTimeOffset SuspendedAt);

public sealed record DecisionCounts(string AgentId, int Allowed, int Denied, int ApprovalRequired);

public sealed record RecentDecision(long Seq, string? ActionId, string? RunId, string? Tool, string Outcome, string? ReasonCode, string? RuleId,
    DateTimeOffset At);

public sealed record AgentUsage(string AgentId, int CallsThisMinute, int CallsLastMinute, decimal SpentTodayUsd, decimal ReservedTodayUsd);

public sealed record OperatorTrailEntry(long Seq, string Action, string? Actor, string? AgentId, string? Tool, string? ActionId, string? RunId,
    string Payload, DateTimeOffset At);

/// <summary>
/// The reads only the console makes: the live kill switch, each agent's recent decisions and its use of
/// its rate and budget limits, and the operators' own trail. Every query is bounded (an index, a limit
/// or a small table), so the pages answer in the same time with a hundred or a million audited actions.
/// </summary>
public sealed class ConsoleQueries(NpgsqlDataSource database, TimeProvider clock)
{
    sealed record SuspensionRow(string Kind, string Name, string SuspendedBy, string? Reason, DateTime SuspendedAt);

    public async Task<IReadOnlyList<LiveSuspension>> SuspensionsAsync(CancellationToken ct)
    {
        await using var connection = await database.OpenConnectionAsync(ct);
        var rows = await connection.QueryAsync<SuspensionRow>(new CommandDefinition(
            "SELECT kind AS Kind, name AS Name, suspended_by AS SuspendedBy, reason AS Reason, suspended_at AS SuspendedAt FROM policy_suspensions ORDER BY kind, name",
            cancellationToken: ct));
        return rows.Select(r => new LiveSuspension(r.Kind, r.Name, r.SuspendedBy, r.Reason, Utc(r.SuspendedAt))).ToList();
    }

    /// <summary>Decisions per agent (or of one agent) since <paramref name="since"/>, from the audit's decision rows (a partial index on their time).</summary>
    public async Task<IReadOnlyDictionary<string, DecisionCounts>> DecisionCountsAsync(DateTimeOffset since, CancellationToken ct, string? agentId = null)
    {
        await using var connection = await database.OpenConnectionAsync(ct);
        var rows = await connection.QueryAsync<(string AgentId, string Outcome, int Count)>(new CommandDefinition("""
            SELECT agent_id, outcome, count(*)::int
            FROM audit_events
            WHERE event_type = 'ActionDecided' AND agent_id IS NOT NULL AND occurred_at >= @Since
              AND (@AgentId::text IS NULL OR agent_id = @AgentId)
            GROUP BY agent_id, outcome
            """, new { Since = since, AgentId = agentId }, cancellationToken: ct));
        return rows.GroupBy(r => r.AgentId).ToDictionary(g => g.Key, g => new DecisionCounts(g.Key,
            g.Where(r => r.Outcome == "allowed").Sum(r => r.Count), g.Where(r => r.Outcome == "denied").Sum(r => r.Count),
            g.Where(r => r.Outcome == "approval_required").Sum(r => r.Count)), StringComparer.Ordinal);
    }

    sealed record DecisionRow(long Seq, string? ActionId, string? RunId, string? Tool, string Outcome, string? ReasonCode, string? RuleId, DateTime At);

    public async Task<IReadOnlyList<RecentDecision>> RecentDecisionsAsync(string agentId, int limit, CancellationToken ct)
    {
        await using var connection = await database.OpenConnectionAsync(ct);
        var rows = await connection.QueryAsync<DecisionRow>(new CommandDefinition("""
            SELECT seq AS Seq, action_id AS ActionId, run_id AS RunId, tool AS Tool, outcome AS Outcome, reason_code AS ReasonCode,
                   rule_id AS RuleId, occurred_at AS At
            FROM audit_events
            WHERE agent_id = @AgentId AND event_type = 'ActionDecided'
            ORDER BY occurred_at DESC
            LIMIT @Limit
            """, new { AgentId = agentId, Limit = limit }, cancellationToken: ct));
        return rows.Select(r => new RecentDecision(r.Seq, r.ActionId, r.RunId, r.Tool, r.Outcome, r.ReasonCode, r.RuleId, Utc(r.At))).ToList();
    }

    /// <summary>Calls admitted in this minute and the last (the policy's two windows), and today's budget (UTC day), per agent.</summary>
    public async Task<IReadOnlyDictionary<string, AgentUsage>> UsageAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var thisMinute = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, now.Minute, 0, TimeSpan.Zero);
        var day = "day:" + now.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        await using var connection = await database.OpenConnectionAsync(ct);
        var windows = await connection.QueryAsync<(string Subject, DateTime Start, int Calls)>(new CommandDefinition("""
            SELECT subject, window_start, calls FROM policy_rate_windows
            WHERE scope = 'agent' AND window_start >= @From
            """, new { From = thisMinute.AddMinutes(-1) }, cancellationToken: ct));
        var budgets = await connection.QueryAsync<(string AgentId, decimal Spent, decimal Reserved)>(new CommandDefinition(
            "SELECT agent_id, spent_usd, reserved_usd FROM budget_usage WHERE period = @Day", new { Day = day }, cancellationToken: ct));

        var usage = new Dictionary<string, AgentUsage>(StringComparer.Ordinal);
        AgentUsage For(string agent) => usage.TryGetValue(agent, out var u) ? u : usage[agent] = new AgentUsage(agent, 0, 0, 0, 0);
        foreach (var w in windows)
            usage[w.Subject] = Utc(w.Start) >= thisMinute
                ? For(w.Subject) with { CallsThisMinute = w.Calls }
                : For(w.Subject) with { CallsLastMinute = w.Calls };
        foreach (var b in budgets)
            usage[b.AgentId] = For(b.AgentId) with { SpentTodayUsd = b.Spent, ReservedTodayUsd = b.Reserved };
        return usage;
    }

    sealed record TrailRow(long Seq, string Outcome, string? Actor, string? AgentId, string? Tool, string? ActionId, string? RunId, string Payload, DateTime At);

    public async Task<IReadOnlyList<OperatorTrailEntry>> OperatorTrailAsync(int limit, CancellationToken ct)
    {
        await using var connection = await database.OpenConnectionAsync(ct);
        var rows = await connection.QueryAsync<TrailRow>(new CommandDefinition("""
            SELECT seq AS Seq, outcome AS Outcome, actor AS Actor, agent_id AS AgentId, tool AS Tool, action_id AS ActionId, run_id AS RunId,
                   payload AS Payload, occurred_at AS At
            FROM audit_events
            WHERE event_type = 'OperatorActionTaken'
            ORDER BY seq DESC
            LIMIT @Limit
            """, new { Limit = limit }, cancellationToken: ct));
        return rows.Select(r => new OperatorTrailEntry(r.Seq, r.Outcome, r.Actor, r.AgentId, r.Tool, r.ActionId, r.RunId, r.Payload, Utc(r.At))).ToList();
    }

    static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));
}
