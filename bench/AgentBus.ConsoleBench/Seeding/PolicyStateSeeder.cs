using System.Text.Json;
using AgentBus.Contracts;
using Npgsql;
using NpgsqlTypes;

namespace AgentBus.ConsoleBench.Seeding;

/// <summary>
/// The policy service's and executors' own tables for the same actions: decisions and outcomes
/// (policy_actions), runs and their call counts, the cost ledger and budget use, approvals, execution
/// claims, and the rate windows of the last minutes (the sweeper drops older ones). Their writers are
/// SQL functions that take one action per round trip, too slow for a month of traffic, so the rows
/// go in by COPY in the shapes those functions leave behind.
/// </summary>
static class PolicyStateSeeder
{
    public static async Task WriteAsync(NpgsqlDataSource dataSource, IReadOnlyList<SeededRun> runs, DateTimeOffset now, CancellationToken ct)
    {
        var actions = runs.SelectMany(r => r.Actions).ToList();
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await CopyActionsAsync(connection, actions, ct);
        await CopyRunsAsync(connection, runs, ct);
        var charges = Charges(actions).ToList();
        await CopyLedgerAsync(connection, charges, ct);
        await CopyBudgetsAsync(connection, charges, ct);
        await CopyApprovalsAsync(connection, actions, ct);
        await CopyClaimsAsync(connection, actions, ct);
        await CopyRateWindowsAsync(connection, actions, now, ct);
        await transaction.CommitAsync(ct);
    }

    static async Task CopyActionsAsync(NpgsqlConnection connection, List<SeededAction> actions, CancellationToken ct)
    {
        await using var copy = await connection.BeginBinaryImportAsync("""
            COPY policy_actions (action_id, agent_id, run_id, tool, operation, arguments_hash, decision, reason_code, reason, rule_id,
                policy_version, estimated_cost_usd, approval, decided_at, outcome, outcome_type, outcome_payload, outcome_at) FROM STDIN (FORMAT BINARY)
            """, ct);
        foreach (var a in actions)
        {
            // An approver's "no" rewrites the decision; a grant leaves it at approval_required.
            var final = a.FinalDecision is { Decision: Decision.Denied } denied ? denied : a.Decided;
            await copy.StartRowAsync(ct);
            await copy.WriteAsync(a.Proposal.ActionId, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(a.Proposal.AgentId, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(a.Proposal.RunId, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(a.Proposal.Tool, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(a.Operation, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(a.ArgumentsHash, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(final.Decision.WireName(), NpgsqlDbType.Text, ct);
            await copy.WriteAsync(final.ReasonCode, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(final.Reason, NpgsqlDbType.Text, ct);
            await Text(copy, final.RuleId, ct);
            await Text(copy, a.Decided.PolicyVersion, ct);
            await copy.WriteAsync(a.EstimatedCostUsd, NpgsqlDbType.Numeric, ct);
            await Jsonb(copy, a.Verdict.Approval is { } approval ? JsonSerializer.Serialize(approval) : null, ct);
            await copy.WriteAsync(a.Decided.DecidedAt.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
            await Text(copy, a.OutcomeName, ct);
            await Text(copy, a.Succeeded is not null ? nameof(ActionSucceeded) : a.Failed is not null ? nameof(ActionFailed) : null, ct);
            await Jsonb(copy, a.OutcomeMessage?.GetRawText(), ct);
            await Time(copy, a.OutcomeAt + PolicyLag, ct);
        }
        await copy.CompleteAsync(ct);
    }

    static async Task CopyRunsAsync(NpgsqlConnection connection, IReadOnlyList<SeededRun> runs, CancellationToken ct)
    {
        await using var copy = await connection.BeginBinaryImportAsync(
            "COPY policy_runs (agent_id, run_id, started_at, tool_calls) FROM STDIN (FORMAT BINARY)", ct);
        foreach (var run in runs)
        {
            await copy.StartRowAsync(ct);
            await copy.WriteAsync(run.AgentId, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(run.RunId, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(run.Actions[0].Decided.DecidedAt.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
            await copy.WriteAsync(run.Actions.Count(a => a.Admitted), NpgsqlDbType.Integer, ct);
        }
        await copy.CompleteAsync(ct);
    }

    sealed record Charge(SeededAction Action, string Status, decimal Reserved, decimal Amount, DateTimeOffset? SettledAt)
    {
        public DateOnly Day => DateOnly.FromDateTime(Action.Decided.DecidedAt.UtcDateTime);
    }

    /// <summary>Each admitted action reserves its estimate; the outcome settles it (or, unknown, keeps the estimate) or releases it.</summary>
    static IEnumerable<Charge> Charges(List<SeededAction> actions)
    {
        foreach (var a in actions.Where(a => a.Admitted && a.EstimatedCostUsd > 0))
        {
            var cost = a.EstimatedCostUsd;
            if (a.Succeeded is { } succeeded)
                yield return new Charge(a, "settled", cost, succeeded.CostUsd, succeeded.CompletedAt + PolicyLag);
            else if (a.Failed is { OutcomeUnknown: true } unknown)
                yield return new Charge(a, "settled", cost, cost, unknown.FailedAt + PolicyLag);
            else if (a.Failed is { } failed)
                yield return new Charge(a, "released", cost, 0, failed.FailedAt + PolicyLag);
            else if (a.FinalDecision is { Decision: Decision.Denied } denied)
                yield return new Charge(a, "released", cost, 0, denied.DecidedAt);
            else
                yield return new Charge(a, "reserved", cost, 0, null);
        }
    }

    static async Task CopyLedgerAsync(NpgsqlConnection connection, List<Charge> charges, CancellationToken ct)
    {
        await using var copy = await connection.BeginBinaryImportAsync("""
            COPY cost_ledger (source, agent_id, run_id, day, action_id, tool, status, reserved_usd, amount_usd, recorded_at, expires_at, settled_at)
            FROM STDIN (FORMAT BINARY)
            """, ct);
        foreach (var c in charges)
        {
            var p = c.Action.Proposal;
            var recordedAt = c.Action.Decided.DecidedAt;
            await copy.StartRowAsync(ct);
            await copy.WriteAsync("tool", NpgsqlDbType.Text, ct);
            await copy.WriteAsync(p.AgentId, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(p.RunId, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(c.Day, NpgsqlDbType.Date, ct);
            await copy.WriteAsync(p.ActionId, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(p.Tool, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(c.Status, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(c.Reserved, NpgsqlDbType.Numeric, ct);
            await copy.WriteAsync(c.Amount, NpgsqlDbType.Numeric, ct);
            await copy.WriteAsync(recordedAt.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
            // A reservation waiting for a person lives as long as the approval can, and then some.
            var hold = c.Action.Verdict.Approval is null ? TimeSpan.FromHours(1) : TimeSpan.FromHours(2);
            await copy.WriteAsync((recordedAt + hold).UtcDateTime, NpgsqlDbType.TimestampTz, ct);
            await Time(copy, c.SettledAt, ct);
        }
        await copy.CompleteAsync(ct);
    }

    static async Task CopyBudgetsAsync(NpgsqlConnection connection, List<Charge> charges, CancellationToken ct)
    {
        var usage = charges
            .SelectMany(c => new[] { (c.Action.Proposal.AgentId, Period: $"day:{c.Day:yyyy-MM-dd}", c), (c.Action.Proposal.AgentId, Period: $"run:{c.Action.Proposal.RunId}", c) })
            .GroupBy(x => (x.AgentId, x.Period))
            .Select(g => (g.Key.AgentId, g.Key.Period,
                Reserved: g.Where(x => x.c.Status == "reserved").Sum(x => x.c.Reserved),
                Spent: g.Where(x => x.c.Status == "settled").Sum(x => x.c.Amount)));
        await using var copy = await connection.BeginBinaryImportAsync(
            "COPY budget_usage (agent_id, period, reserved_usd, spent_usd) FROM STDIN (FORMAT BINARY)", ct);
        foreach (var (agent, period, reserved, spent) in usage)
        {
            await copy.StartRowAsync(ct);
            await copy.WriteAsync(agent, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(period, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(reserved, NpgsqlDbType.Numeric, ct);
            await copy.WriteAsync(spent, NpgsqlDbType.Numeric, ct);
        }
        await copy.CompleteAsync(ct);
    }

    static async Task CopyApprovalsAsync(NpgsqlConnection connection, List<SeededAction> actions, CancellationToken ct)
    {
        await using var copy = await connection.BeginBinaryImportAsync("""
            COPY policy_approvals (approval_id, action_id, agent_id, run_id, tool, arguments_hash, arguments, intent, rule_id, approver_group, quorum,
                policy_version, status, consumption_id, approvers, final_decision, reason_code, reason, requested_at, updated_at, decision_reason,
                decided_at, proposal_message_id, operation) FROM STDIN (FORMAT BINARY)
            """, ct);
        foreach (var a in actions)
        {
            if (a.ApprovalRequested is not { } request)
                continue;
            var final = a.FinalDecision;
            await copy.StartRowAsync(ct);
            await copy.WriteAsync(request.ApprovalId, NpgsqlDbType.Uuid, ct);
            await copy.WriteAsync(request.ActionId, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(request.AgentId, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(request.RunId, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(request.Tool, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(request.ArgumentsHash, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(request.Arguments.GetRawText(), NpgsqlDbType.Text, ct);
            await Text(copy, request.Intent, ct);
            await copy.WriteAsync(request.RuleId, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(request.ApproverGroup, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(request.Quorum, NpgsqlDbType.Integer, ct);
            await Text(copy, request.PolicyVersion, ct);
            await copy.WriteAsync(final is null ? "pending" : final.Decision == Decision.Allowed ? "authorized" : "denied", NpgsqlDbType.Text, ct);
            if (a.Consumed is { } consumed)
                await copy.WriteAsync(consumed.ConsumptionId, NpgsqlDbType.Uuid, ct);
            else
                await copy.WriteNullAsync(ct);
            await copy.WriteAsync(a.Granted is { } granted ? granted.Approvers.ToArray() : [], NpgsqlDbType.Array | NpgsqlDbType.Text, ct);
            await Text(copy, final?.Decision.WireName(), ct);
            await Text(copy, final?.ReasonCode, ct);
            await Text(copy, final?.Reason, ct);
            await copy.WriteAsync(request.RequestedAt.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
            await copy.WriteAsync((final?.DecidedAt ?? request.RequestedAt).UtcDateTime, NpgsqlDbType.TimestampTz, ct);
            await copy.WriteAsync(a.Decided.Reason, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(a.Decided.DecidedAt.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
            await copy.WriteAsync(a.ProposalMessageId, NpgsqlDbType.Text, ct);
            await Text(copy, request.Operation, ct);
        }
        await copy.CompleteAsync(ct);
    }

    static async Task CopyClaimsAsync(NpgsqlConnection connection, List<SeededAction> actions, CancellationToken ct)
    {
        await using var copy = await connection.BeginBinaryImportAsync("""
            COPY execution_claims (action_id, tool, run_id, agent_id, arguments_hash, state, executor, claim_token, claimed_at, heartbeat_at,
                finished_at, attempts, outcome_type, outcome_message_id, outcome) FROM STDIN (FORMAT BINARY)
            """, ct);
        foreach (var a in actions)
        {
            if (a.OutcomeMessage is not { } outcome)
                continue;
            var p = a.Proposal;
            var startedAt = a.Succeeded?.StartedAt ?? a.Failed!.StartedAt!.Value;
            await copy.StartRowAsync(ct);
            await copy.WriteAsync(p.ActionId, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(p.Tool, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(p.RunId, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(p.AgentId, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(a.ArgumentsHash, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(a.OutcomeName!, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(a.Succeeded?.Executor ?? a.Failed!.Executor!, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(Guid.NewGuid(), NpgsqlDbType.Uuid, ct);
            await copy.WriteAsync(startedAt.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
            await copy.WriteAsync(startedAt.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
            await copy.WriteAsync(a.OutcomeAt!.Value.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
            await copy.WriteAsync(1, NpgsqlDbType.Integer, ct);
            await copy.WriteAsync(a.Succeeded is not null ? nameof(ActionSucceeded) : nameof(ActionFailed), NpgsqlDbType.Text, ct);
            await copy.WriteAsync(MessageIds.ActionOutcome(p.AgentId, p.ActionId, p.Tool), NpgsqlDbType.Uuid, ct);
            await copy.WriteAsync(outcome.GetRawText(), NpgsqlDbType.Json, ct);
        }
        await copy.CompleteAsync(ct);
    }

    static async Task CopyRateWindowsAsync(NpgsqlConnection connection, List<SeededAction> actions, DateTimeOffset now, CancellationToken ct)
    {
        var since = now - TimeSpan.FromMinutes(5);
        var windows = actions
            .Where(a => a.Admitted && a.Decided.DecidedAt >= since)
            .SelectMany(a =>
            {
                var minute = a.Decided.DecidedAt.UtcDateTime;
                minute = new DateTime(minute.Year, minute.Month, minute.Day, minute.Hour, minute.Minute, 0, DateTimeKind.Utc);
                return new[] { (Scope: "agent", Subject: a.Proposal.AgentId, minute), (Scope: "tool", Subject: a.Proposal.Tool, minute) };
            })
            .GroupBy(w => w)
            .Select(g => (g.Key.Scope, g.Key.Subject, g.Key.minute, Calls: g.Count()));
        await using var copy = await connection.BeginBinaryImportAsync(
            "COPY policy_rate_windows (scope, subject, window_start, calls) FROM STDIN (FORMAT BINARY)", ct);
        foreach (var (scope, subject, start, calls) in windows)
        {
            await copy.StartRowAsync(ct);
            await copy.WriteAsync(scope, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(subject, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(start, NpgsqlDbType.TimestampTz, ct);
            await copy.WriteAsync(calls, NpgsqlDbType.Integer, ct);
        }
        await copy.CompleteAsync(ct);
    }

    /// <summary>The policy service hears of an outcome a moment after the executor publishes it.</summary>
    static readonly TimeSpan PolicyLag = TimeSpan.FromMilliseconds(40);

    static Task Text(NpgsqlBinaryImporter copy, string? value, CancellationToken ct) =>
        value is null ? copy.WriteNullAsync(ct) : copy.WriteAsync(value, NpgsqlDbType.Text, ct);

    static Task Jsonb(NpgsqlBinaryImporter copy, string? value, CancellationToken ct) =>
        value is null ? copy.WriteNullAsync(ct) : copy.WriteAsync(value, NpgsqlDbType.Jsonb, ct);

    static Task Time(NpgsqlBinaryImporter copy, DateTimeOffset? value, CancellationToken ct) =>
        value is { } at ? copy.WriteAsync(at.UtcDateTime, NpgsqlDbType.TimestampTz, ct) : copy.WriteNullAsync(ct);
}
