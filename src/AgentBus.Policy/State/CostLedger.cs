using AgentBus.Contracts;
using Dapper;
using Npgsql;

namespace AgentBus.Policy.State;

/// <summary>
/// The money side of the stateful steps: releases what will not be spent (the projections settle
/// outcomes, through policy_settle_outcomes), and records inference spend agents report. Each change to
/// the ledger and to the budget counters happens in one transaction, once (idempotent on the
/// action or report id).
/// </summary>
public sealed class CostLedger(NpgsqlDataSource database, TimeProvider clock)
{
    sealed record Charge(long EntryId, string AgentId, string RunId, DateOnly Day, string Status, decimal ReservedUsd);

    /// <summary>Gives back what an admitted action had reserved (its approval was denied or it expired).</summary>
    public async Task<bool> ReleaseAsync(string actionId, CancellationToken ct)
    {
        await using var connection = await database.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var released = await ReleaseAsync(connection, tx, actionId, ct);
        await tx.CommitAsync(ct);
        return released;
    }

    /// <summary>The same, inside the caller's transaction.</summary>
    public async Task<bool> ReleaseAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string actionId, CancellationToken ct)
    {
        var charge = await connection.QuerySingleOrDefaultAsync<Charge>(new CommandDefinition("""
            SELECT entry_id AS EntryId, agent_id AS AgentId, run_id AS RunId, day AS Day, status AS Status, reserved_usd AS ReservedUsd
            FROM cost_ledger WHERE action_id = @ActionId AND status = 'reserved' FOR UPDATE SKIP LOCKED
            """, new { ActionId = actionId }, tx, cancellationToken: ct));
        if (charge is null)
            return false;
        await AdjustAsync(connection, tx, charge.AgentId, charge.RunId, charge.Day, -charge.ReservedUsd, 0m, ct);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE cost_ledger SET status = 'released', settled_at = @Now WHERE entry_id = @EntryId",
            new { charge.EntryId, Now = clock.GetUtcNow() }, tx, cancellationToken: ct));
        return true;
    }

    /// <summary>Releases reservations whose outcome never came; several instances share the work (SKIP LOCKED).</summary>
    public async Task<int> ReleaseExpiredAsync(int batch, CancellationToken ct)
    {
        await using var connection = await database.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        // The oldest first, released agent by agent in byte order, as admissions and settlements take budget rows.
        var expired = (await connection.QueryAsync<string>(new CommandDefinition("""
            SELECT action_id FROM (
                SELECT action_id, agent_id FROM cost_ledger WHERE status = 'reserved' AND expires_at < @Now
                ORDER BY expires_at LIMIT @Batch FOR UPDATE SKIP LOCKED) oldest
            ORDER BY agent_id COLLATE "C"
            """, new { Now = clock.GetUtcNow(), Batch = batch }, tx, cancellationToken: ct))).ToList();
        var released = 0;
        foreach (var actionId in expired)
            if (await ReleaseAsync(connection, tx, actionId, ct))
                released++;
        await tx.CommitAsync(ct);
        return released;
    }

    /// <summary>Records money an agent spent outside AgentBus; a repeated report id changes nothing.</summary>
    public async Task<bool> RecordSpendAsync(SpendReported report, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var day = DateOnly.FromDateTime(now.UtcDateTime);
        await using var connection = await database.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var inserted = await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO cost_ledger (source, agent_id, run_id, day, report_id, category, description, status, amount_usd, recorded_at, settled_at)
            VALUES ('inference', @AgentId, @RunId, @Day, @ReportId, @Category, @Description, 'settled', @AmountUsd, @Now, @Now)
            ON CONFLICT (agent_id, report_id) DO NOTHING
            """, new
        {
            report.AgentId, report.RunId, Day = day.ToDateTime(TimeOnly.MinValue), report.ReportId, report.Category, report.Description,
            report.AmountUsd, Now = now,
        }, tx, cancellationToken: ct));
        if (inserted == 1)
            await AdjustAsync(connection, tx, report.AgentId, report.RunId, day, 0m, report.AmountUsd, ct);
        await tx.CommitAsync(ct);
        return inserted == 1;
    }

    /// <summary>Budget counters change only through the database's own rules (policy_adjust_budget, migration 0702).</summary>
    static Task AdjustAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string agentId, string runId, DateOnly day,
        decimal reservedDelta, decimal spentDelta, CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition(
            "SELECT policy_adjust_budget(@AgentId, @RunId, CAST(@Day AS date), @Reserved, @Spent)",
            new { AgentId = agentId, RunId = runId, Day = day.ToDateTime(TimeOnly.MinValue), Reserved = reservedDelta, Spent = spentDelta },
            tx, cancellationToken: ct));
}
