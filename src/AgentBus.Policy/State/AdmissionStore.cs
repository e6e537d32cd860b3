using System.Globalization;
using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.Policy.Engine;
using AgentBus.ServiceDefaults.Json;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AgentBus.Policy.State;

/// <summary>How a proposal's decision came about in the stateful step.</summary>
public enum AdmissionKind
{
    /// <summary>Decided now, for the first time.</summary>
    New,

    /// <summary>This action id was decided before: the same decision again, nothing counted twice.</summary>
    Replay,

    /// <summary>It repeats an admitted action: that action's decision (and outcome, once known), never a second execution.</summary>
    Duplicate,
}

public sealed record StoredOutcome(string Type, string Payload);

public sealed record Admission(AdmissionKind Kind, PolicyDecision Decision, string? DuplicateOf = null, StoredOutcome? FirstOutcome = null);

/// <summary>
/// Steps 5 and 6 of evaluation, and idempotency, against PostgreSQL shared by every policy
/// instance. The admission itself is one call of the database function policy_admit (migration
/// 0600): in one transaction, every limit is an atomic statement on a locked row (INSERT … ON
/// CONFLICT … RETURNING, UPDATE … WHERE used + cost &lt;= limit), so two instances can never both take
/// the last unit of a budget or rate; rows are locked in one order (idempotency, agent rate, tool
/// rate, run, attempts, budget day, budget run) so transactions queue behind each other instead of
/// deadlocking; a refusal undoes all of it, so a denied proposal consumes nothing. One round trip
/// instead of one per statement: the agent's hot rows stay locked for microseconds, not for
/// seventeen network exchanges. Refusals are worded here and recorded by a second statement.
/// </summary>
public sealed class AdmissionStore(NpgsqlDataSource database, IOptions<PolicyOptions> options)
{
    sealed record StoredAction(
        string AgentId, string RunId, string Tool, string ArgumentsHash, string Decision, string ReasonCode, string Reason,
        string? RuleId, string? DuplicateOf, string? Approval, string? OutcomeType, string? OutcomePayload);

    sealed record Admitted(string Result, string? FirstActionId, DateTime? RunStartedAt, int? Attempts, decimal? SpentUsd, decimal? ReservedUsd);

    const string StoredColumns = """
        agent_id AS AgentId, run_id AS RunId, tool AS Tool, arguments_hash AS ArgumentsHash, decision AS Decision,
        reason_code AS ReasonCode, reason AS Reason, rule_id AS RuleId, duplicate_of AS DuplicateOf,
        approval::text AS Approval, outcome_type AS OutcomeType, outcome_payload::text AS OutcomePayload
        """;

    public async Task<Admission> AdmitAsync(ActionProposed proposal, PolicyDecision evaluated, string? policyVersion,
        DateTimeOffset now, CancellationToken ct)
    {
        var argumentsHash = CanonicalJson.Hash(proposal.Arguments);
        await using var connection = await database.OpenConnectionAsync(ct);

        if (evaluated.Decision == Decision.Denied)
            return await RecordAsync(connection, proposal, argumentsHash, evaluated, policyVersion, now, ct)
                ? new(AdmissionKind.New, evaluated)
                : await ReplayAsync(connection, proposal, argumentsHash, ct);

        var terms = evaluated.Terms ?? throw new InvalidOperationException("A permitted decision carries admission terms.");
        var admitted = await connection.QuerySingleAsync<Admitted>(new CommandDefinition("""
            SELECT result AS Result, first_action_id AS FirstActionId, run_started_at AS RunStartedAt, attempts AS Attempts,
                   spent_usd AS SpentUsd, reserved_usd AS ReservedUsd
            FROM policy_admit(@ActionId, @AgentId, @RunId, @Tool, @ArgumentsHash, @IdempotencyKey, @Now,
                @DedupeKey, @DedupeExpiresAt,
                @WindowStart, @PreviousWeight, @AgentCallsPerMinute, @ToolCallsPerMinute,
                @RunMaxToolCalls, @RunMaxRetries, @RunMaxDuration,
                @Cost, CAST(@Day AS date), @DayPeriod, @DayLimit, @RunPeriod, @RunLimit, @ReservationExpiresAt,
                @Decision, @ReasonCode, @Reason, @RuleId, @PolicyVersion, CAST(@Approval AS jsonb))
            """, Parameters(proposal, argumentsHash, evaluated, terms, policyVersion, now), cancellationToken: ct));

        if (admitted.Result == "admitted")
            return new(AdmissionKind.New, evaluated);
        if (admitted.Result == "stored")
            return await ReplayAsync(connection, proposal, argumentsHash, ct);
        if (admitted.Result == "duplicate")
            return await DuplicateAsync(connection, proposal, argumentsHash, admitted.FirstActionId!, policyVersion, now, ct);

        var refusal = Refusal(admitted, proposal, terms, now);
        return await RecordAsync(connection, proposal, argumentsHash, refusal, policyVersion, now, ct)
            ? new(AdmissionKind.New, refusal)
            : await ReplayAsync(connection, proposal, argumentsHash, ct);
    }

    object Parameters(ActionProposed proposal, string argumentsHash, PolicyDecision evaluated, AdmissionTerms terms, string? policyVersion,
        DateTimeOffset now)
    {
        var (dedupeKey, window) = proposal.IdempotencyKey is { Length: > 0 } idempotencyKey
            ? ("key:" + idempotencyKey, options.Value.IdempotencyKeyWindow)
            : ($"args:{proposal.RunId}\n{proposal.Tool}\n{argumentsHash}", options.Value.DuplicateWindow);
        // Sliding one-minute window: the previous minute weighted by how much of it still overlaps, plus this minute.
        var windowStart = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, now.Minute, 0, TimeSpan.Zero);
        var day = DateOnly.FromDateTime(now.UtcDateTime);
        return new
        {
            proposal.ActionId, proposal.AgentId, proposal.RunId, proposal.Tool, ArgumentsHash = argumentsHash, proposal.IdempotencyKey, Now = now,
            DedupeKey = window > TimeSpan.Zero ? dedupeKey : null,
            DedupeExpiresAt = now + window,
            WindowStart = windowStart,
            PreviousWeight = 1.0 - (now - windowStart).TotalSeconds / 60.0,
            AgentCallsPerMinute = terms.AgentCallsPerMinute?.Value,
            ToolCallsPerMinute = terms.ToolCallsPerMinute?.Value,
            RunMaxToolCalls = terms.RunToolCalls?.Value,
            RunMaxRetries = terms.RunRetries?.Value,
            RunMaxDuration = terms.RunDuration?.Value.TotalSeconds,
            Cost = terms.EstimatedCostUsd,
            Day = day.ToDateTime(TimeOnly.MinValue),
            DayPeriod = DayPeriod(day),
            DayLimit = terms.PerDayUsd?.Value,
            RunPeriod = RunPeriod(proposal.RunId),
            RunLimit = terms.PerRunUsd?.Value,
            ReservationExpiresAt = (evaluated.Approval?.ExpiresAt ?? now) + options.Value.ReservationTimeout,
            Decision = DecisionName(evaluated.Decision), evaluated.ReasonCode, evaluated.Reason, evaluated.RuleId, PolicyVersion = policyVersion,
            Approval = evaluated.Approval is { } approval ? JsonSerializer.Serialize(approval) : null,
        };
    }

    /// <summary>The refusal policy_admit found, in words, naming the rule that set the limit.</summary>
    static PolicyDecision Refusal(Admitted admitted, ActionProposed proposal, AdmissionTerms terms, DateTimeOffset now)
    {
        var day = DateOnly.FromDateTime(now.UtcDateTime);
        return admitted.Result switch
        {
            "agent_suspended" => PolicyDecision.Deny(ReasonCodes.AgentSuspended, $"Agent '{proposal.AgentId}' is suspended by an operator.", "kill-switch"),
            "tool_suspended" => PolicyDecision.Deny(ReasonCodes.ToolSuspended, $"Tool '{proposal.Tool}' is suspended by an operator.", "kill-switch"),
            "agent_rate" => PolicyDecision.Deny(ReasonCodes.RateLimited,
                $"Agent '{proposal.AgentId}' is at its limit of {terms.AgentCallsPerMinute!.Value} calls per minute; try again shortly.",
                terms.AgentCallsPerMinute.RuleId),
            "tool_rate" => PolicyDecision.Deny(ReasonCodes.RateLimited,
                $"Tool '{proposal.Tool}' is at its limit of {terms.ToolCallsPerMinute!.Value} calls per minute; try again shortly.",
                terms.ToolCallsPerMinute.RuleId),
            "run_time" => PolicyDecision.Deny(ReasonCodes.RunTimeExceeded,
                $"Run '{proposal.RunId}' started at {new DateTimeOffset(DateTime.SpecifyKind(admitted.RunStartedAt!.Value, DateTimeKind.Utc)):u} " +
                $"and may last {Durations.Format(terms.RunDuration!.Value)}; start a new run.", terms.RunDuration.RuleId),
            "run_tool_calls" => PolicyDecision.Deny(ReasonCodes.RunToolCallsExceeded,
                $"Run '{proposal.RunId}' has used its {terms.RunToolCalls!.Value} tool calls.", terms.RunToolCalls.RuleId),
            "run_retries" => PolicyDecision.Deny(ReasonCodes.RunRetriesExceeded,
                $"Run '{proposal.RunId}' already tried this exact {proposal.Tool} action {admitted.Attempts!.Value - 1} time(s); " +
                $"at most {terms.RunRetries!.Value} retries are allowed.", terms.RunRetries.RuleId),
            "budget_day" => Budget(proposal.AgentId, terms.PerDayUsd!, $"today ({day:yyyy-MM-dd} UTC)", admitted, terms.EstimatedCostUsd),
            "budget_run" => Budget(proposal.AgentId, terms.PerRunUsd!, $"run '{proposal.RunId}'", admitted, terms.EstimatedCostUsd),
            _ => throw new InvalidOperationException($"policy_admit answered '{admitted.Result}', which this version does not know."),
        };
    }

    static PolicyDecision Budget(string agentId, RuleLimit<decimal> limit, string what, Admitted usage, decimal cost) =>
        PolicyDecision.Deny(ReasonCodes.BudgetExceeded,
            $"Agent '{agentId}' has ${Usd(limit.Value)} for {what}: ${Usd(usage.SpentUsd ?? 0)} spent and ${Usd(usage.ReservedUsd ?? 0)} reserved " +
            $"leave less than this call's ${Usd(cost)}.", limit.RuleId);

    /// <summary>This action id was decided before: the same decision again (and its outcome, once known), nothing counted twice.</summary>
    static async Task<Admission> ReplayAsync(NpgsqlConnection connection, ActionProposed proposal, string argumentsHash, CancellationToken ct)
    {
        var stored = await connection.QuerySingleAsync<StoredAction>(new CommandDefinition(
            $"SELECT {StoredColumns} FROM policy_actions WHERE action_id = @ActionId", new { proposal.ActionId }, cancellationToken: ct));
        if (stored.AgentId != proposal.AgentId || stored.RunId != proposal.RunId || stored.Tool != proposal.Tool || stored.ArgumentsHash != argumentsHash)
            return new(AdmissionKind.Replay, PolicyDecision.Deny(ReasonCodes.ActionIdReused,
                $"Action id {proposal.ActionId} was already used for a different action; use a new id for every action.", "idempotency"));
        return new(AdmissionKind.Replay, Rebuild(stored), stored.DuplicateOf,
            stored.OutcomeType is { } type ? new StoredOutcome(type, stored.OutcomePayload!) : null);
    }

    /// <summary>
    /// A granted approval goes back through the stateful steps before anything runs, inside the
    /// caller's transaction (which holds the approval's row): the live kill switch; the rate windows,
    /// where the execution counts in the current minute (it happens now); the run's wall-clock cap; and
    /// the budget under the limits in force now. Run tool calls and retries were counted when the
    /// approval was requested and are not counted again. The reservation made then is kept and
    /// re-validated (its day and run must still fit the current limits) and held for another
    /// <see cref="PolicyOptions.ReservationTimeout"/>; if the sweeper released it meanwhile it is
    /// reserved again, today. Returns the refusal, or null; a refusal undoes what this counted.
    /// </summary>
    public async Task<PolicyDecision?> ReadmitAsync(NpgsqlConnection connection, NpgsqlTransaction tx, ActionProposed proposal,
        AdmissionTerms terms, DateTimeOffset now, CancellationToken ct)
    {
        await tx.SaveAsync("readmission", ct);
        var refusal = await LiveKillSwitchAsync(connection, tx, proposal, ct)
                      ?? await RateAsync(connection, tx, "agent", proposal.AgentId, terms.AgentCallsPerMinute, now, ct)
                      ?? await RateAsync(connection, tx, "tool", proposal.Tool, terms.ToolCallsPerMinute, now, ct)
                      ?? await RunTimeAsync(connection, tx, proposal, terms, now, ct)
                      ?? await RevalidateReservationAsync(connection, tx, proposal, terms, now, ct);
        if (refusal is not null)
            await tx.RollbackAsync("readmission", ct);
        else
            await tx.ReleaseAsync("readmission", ct);
        return refusal;
    }

    static async Task<PolicyDecision?> RunTimeAsync(NpgsqlConnection connection, NpgsqlTransaction tx, ActionProposed proposal,
        AdmissionTerms terms, DateTimeOffset now, CancellationToken ct)
    {
        if (terms.RunDuration is not { } duration)
            return null;
        var started = await connection.QuerySingleOrDefaultAsync<DateTime?>(new CommandDefinition(
            "SELECT started_at FROM policy_runs WHERE agent_id = @AgentId AND run_id = @RunId",
            new { proposal.AgentId, proposal.RunId }, tx, cancellationToken: ct));
        if (started is not { } at)
            return null;
        var startedAt = new DateTimeOffset(DateTime.SpecifyKind(at, DateTimeKind.Utc));
        return now - startedAt > duration.Value
            ? PolicyDecision.Deny(ReasonCodes.RunTimeExceeded,
                $"Run '{proposal.RunId}' started at {startedAt:u} and may last {Durations.Format(duration.Value)}; it is over now.", duration.RuleId)
            : null;
    }

    sealed record HeldReservation(string Status, DateOnly Day);

    async Task<PolicyDecision?> RevalidateReservationAsync(NpgsqlConnection connection, NpgsqlTransaction tx, ActionProposed proposal,
        AdmissionTerms terms, DateTimeOffset now, CancellationToken ct)
    {
        var held = await connection.QuerySingleOrDefaultAsync<HeldReservation>(new CommandDefinition(
            "SELECT status AS Status, day AS Day FROM cost_ledger WHERE action_id = @ActionId FOR UPDATE",
            new { proposal.ActionId }, tx, cancellationToken: ct));
        var holdUntil = now + options.Value.ReservationTimeout;

        if (held is { Status: "reserved" })
        {
            var day = held.Day;
            var refusal = await FitsAsync(connection, tx, proposal.AgentId, DayPeriod(day), terms.PerDayUsd, $"{day:yyyy-MM-dd} (UTC)", ct)
                          ?? await FitsAsync(connection, tx, proposal.AgentId, RunPeriod(proposal.RunId), terms.PerRunUsd, $"run '{proposal.RunId}'", ct);
            if (refusal is not null)
                return refusal;
            await connection.ExecuteAsync(new CommandDefinition(
                "UPDATE cost_ledger SET expires_at = GREATEST(expires_at, @HoldUntil) WHERE action_id = @ActionId",
                new { proposal.ActionId, HoldUntil = holdUntil }, tx, cancellationToken: ct));
            return null;
        }
        if (held is { Status: "settled" })
            return null;

        // Released by the sweeper (or never reserved): reserve again, under today's and the run's limits.
        var cost = terms.EstimatedCostUsd;
        var today = DateOnly.FromDateTime(now.UtcDateTime);
        var again = await ReservePeriodAsync(connection, tx, proposal.AgentId, DayPeriod(today), cost, terms.PerDayUsd, $"today ({today:yyyy-MM-dd} UTC)", ct)
                    ?? await ReservePeriodAsync(connection, tx, proposal.AgentId, RunPeriod(proposal.RunId), cost, terms.PerRunUsd, $"run '{proposal.RunId}'", ct);
        if (again is not null)
            return again;
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO cost_ledger (source, agent_id, run_id, day, action_id, tool, status, reserved_usd, amount_usd, recorded_at, expires_at)
            VALUES ('tool', @AgentId, @RunId, @Day, @ActionId, @Tool, 'reserved', @Cost, 0, @Now, @HoldUntil)
            ON CONFLICT (action_id) DO UPDATE SET status = 'reserved', day = EXCLUDED.day, reserved_usd = EXCLUDED.reserved_usd,
                amount_usd = 0, recorded_at = EXCLUDED.recorded_at, expires_at = EXCLUDED.expires_at, settled_at = NULL
            """, new
        {
            proposal.AgentId, proposal.RunId, Day = today.ToDateTime(TimeOnly.MinValue), proposal.ActionId, proposal.Tool, Cost = cost, Now = now,
            HoldUntil = holdUntil,
        }, tx, cancellationToken: ct));
        return null;
    }

    sealed record Usage(decimal Spent, decimal Reserved);

    /// <summary>Whether what is spent and reserved (this action's reservation included) still fits the limit in force now.</summary>
    static async Task<PolicyDecision?> FitsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string agentId, string period,
        RuleLimit<decimal>? limit, string what, CancellationToken ct)
    {
        if (limit is null)
            return null;
        var used = await connection.QuerySingleOrDefaultAsync<Usage>(new CommandDefinition(
            "SELECT spent_usd AS Spent, reserved_usd AS Reserved FROM budget_usage WHERE agent_id = @AgentId AND period = @Period FOR UPDATE",
            new { AgentId = agentId, Period = period }, tx, cancellationToken: ct));
        if (used is null || used.Spent + used.Reserved <= limit.Value)
            return null;
        return PolicyDecision.Deny(ReasonCodes.BudgetExceeded,
            $"Agent '{agentId}' now has ${Usd(limit.Value)} for {what}: ${Usd(used.Spent)} spent and ${Usd(used.Reserved)} reserved (this action included) exceed it.",
            limit.RuleId);
    }

    static PolicyDecision Rebuild(StoredAction stored)
    {
        var decision = stored.Decision switch
        {
            "allowed" => Decision.Allowed,
            "approval_required" => Decision.ApprovalRequired,
            _ => Decision.Denied,
        };
        return new PolicyDecision(decision, stored.ReasonCode, stored.Reason, stored.RuleId)
        {
            Approval = stored.Approval is { } json ? JsonSerializer.Deserialize<ApprovalRequirement>(json) : null,
        };
    }

    /// <summary>Records a decision made outside policy_admit; false when this action id was decided already (then replay it).</summary>
    static async Task<bool> RecordAsync(NpgsqlConnection connection, ActionProposed proposal, string argumentsHash,
        PolicyDecision decision, string? policyVersion, DateTimeOffset now, CancellationToken ct, NpgsqlTransaction? tx = null,
        string? duplicateOf = null) =>
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO policy_actions (action_id, agent_id, run_id, tool, arguments_hash, idempotency_key, decision, reason_code,
                reason, rule_id, policy_version, duplicate_of, estimated_cost_usd, approval, decided_at)
            VALUES (@ActionId, @AgentId, @RunId, @Tool, @ArgumentsHash, @IdempotencyKey, @Decision, @ReasonCode,
                @Reason, @RuleId, @PolicyVersion, @DuplicateOf, @Cost, CAST(@Approval AS jsonb), @Now)
            ON CONFLICT (action_id) DO NOTHING
            """, new
        {
            proposal.ActionId, proposal.AgentId, proposal.RunId, proposal.Tool, ArgumentsHash = argumentsHash, proposal.IdempotencyKey,
            Decision = DecisionName(decision.Decision), decision.ReasonCode, decision.Reason, decision.RuleId,
            PolicyVersion = policyVersion, DuplicateOf = duplicateOf, Cost = decision.Terms?.EstimatedCostUsd ?? 0m,
            Approval = decision.Approval is { } approval ? JsonSerializer.Serialize(approval) : null, Now = now,
        }, tx, cancellationToken: ct)) == 1;

    public static string DecisionName(Decision decision) => decision switch
    {
        Decision.Allowed => "allowed",
        Decision.ApprovalRequired => "approval_required",
        _ => "denied",
    };

    /// <summary>
    /// It repeats an admitted action (policy_admit found that action holding the claim, and wrote
    /// nothing): record it as that action's duplicate. Only admitted actions ever commit a claim, and
    /// a claim outlives its window, so the first action is there to read.
    /// </summary>
    static async Task<Admission> DuplicateAsync(NpgsqlConnection connection, ActionProposed proposal, string argumentsHash,
        string firstActionId, string? policyVersion, DateTimeOffset now, CancellationToken ct)
    {
        await using var tx = await connection.BeginTransactionAsync(ct);
        // Locked so the outcome consumer either sees this duplicate or this sees the outcome.
        var first = await connection.QuerySingleAsync<StoredAction>(new CommandDefinition(
            $"SELECT {StoredColumns} FROM policy_actions WHERE action_id = @FirstActionId FOR UPDATE",
            new { FirstActionId = firstActionId }, tx, cancellationToken: ct));

        var firstDecision = Rebuild(first);
        var how = proposal.IdempotencyKey is { Length: > 0 } ? "its idempotency key" : "its run, tool and arguments";
        var decision = new PolicyDecision(firstDecision.Decision, ReasonCodes.DuplicateAction,
            $"This proposal repeats action {firstActionId} ({how}); it gets that action's decision ({DecisionName(firstDecision.Decision)}: {first.Reason}) " +
            "and outcome, and is not executed again.", "idempotency")
        {
            Approval = firstDecision.Approval,
        };
        if (!await RecordAsync(connection, proposal, argumentsHash, decision, policyVersion, now, ct, tx, firstActionId))
        {
            await tx.RollbackAsync(ct);
            return await ReplayAsync(connection, proposal, argumentsHash, ct);
        }
        await tx.CommitAsync(ct);
        return new(AdmissionKind.Duplicate, decision, firstActionId,
            first.OutcomeType is { } type ? new StoredOutcome(type, first.OutcomePayload!) : null);
    }

    public static string DayPeriod(DateOnly day) => "day:" + day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    public static string RunPeriod(string runId) => "run:" + runId;

    static string Usd(decimal value) => value.ToString("0.00####", CultureInfo.InvariantCulture);

    // A granted approval's readmission runs inside the transaction that holds the approval's row, so its
    // steps stay statements of their own here instead of going through policy_admit.

    static async Task<PolicyDecision?> LiveKillSwitchAsync(NpgsqlConnection connection, NpgsqlTransaction tx, ActionProposed proposal, CancellationToken ct)
    {
        var kinds = (await connection.QueryAsync<string>(new CommandDefinition("""
            SELECT kind FROM policy_suspensions WHERE (kind = 'agent' AND name = @AgentId) OR (kind = 'tool' AND name = @Tool)
            """, new { proposal.AgentId, proposal.Tool }, tx, cancellationToken: ct))).ToList();
        if (kinds.Contains("agent"))
            return PolicyDecision.Deny(ReasonCodes.AgentSuspended, $"Agent '{proposal.AgentId}' is suspended by an operator.", "kill-switch");
        if (kinds.Contains("tool"))
            return PolicyDecision.Deny(ReasonCodes.ToolSuspended, $"Tool '{proposal.Tool}' is suspended by an operator.", "kill-switch");
        return null;
    }

    /// <summary>Sliding one-minute window: the previous minute weighted by how much of it still overlaps, plus this minute.</summary>
    static async Task<PolicyDecision?> RateAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string scope, string subject,
        RuleLimit<int>? limit, DateTimeOffset now, CancellationToken ct)
    {
        if (limit is null)
            return null;
        var window = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, now.Minute, 0, TimeSpan.Zero);
        var current = await connection.QuerySingleAsync<int>(new CommandDefinition("""
            INSERT INTO policy_rate_windows AS w (scope, subject, window_start, calls) VALUES (@Scope, @Subject, @Window, 0)
            ON CONFLICT (scope, subject, window_start) DO UPDATE SET calls = w.calls
            RETURNING calls
            """, new { Scope = scope, Subject = subject, Window = window }, tx, cancellationToken: ct));
        var previous = await connection.QuerySingleOrDefaultAsync<int?>(new CommandDefinition(
            "SELECT calls FROM policy_rate_windows WHERE scope = @Scope AND subject = @Subject AND window_start = @Previous",
            new { Scope = scope, Subject = subject, Previous = window.AddMinutes(-1) }, tx, cancellationToken: ct)) ?? 0;

        var overlap = 1.0 - (now - window).TotalSeconds / 60.0;
        var estimate = previous * overlap + current;
        if (estimate + 1 > limit.Value)
            return PolicyDecision.Deny(ReasonCodes.RateLimited,
                $"{(scope == "agent" ? "Agent" : "Tool")} '{subject}' is at its limit of {limit.Value} calls per minute; try again shortly.", limit.RuleId);

        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE policy_rate_windows SET calls = calls + 1 WHERE scope = @Scope AND subject = @Subject AND window_start = @Window",
            new { Scope = scope, Subject = subject, Window = window }, tx, cancellationToken: ct));
        return null;
    }

    static async Task<PolicyDecision?> ReservePeriodAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string agentId, string period,
        decimal cost, RuleLimit<decimal>? limit, string what, CancellationToken ct)
    {
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO budget_usage (agent_id, period) VALUES (@AgentId, @Period) ON CONFLICT DO NOTHING",
            new { AgentId = agentId, Period = period }, tx, cancellationToken: ct));
        var reserved = await connection.ExecuteAsync(new CommandDefinition("""
            UPDATE budget_usage SET reserved_usd = reserved_usd + @Cost
            WHERE agent_id = @AgentId AND period = @Period AND (@Limit IS NULL OR spent_usd + reserved_usd + @Cost <= @Limit)
            """, new { AgentId = agentId, Period = period, Cost = cost, Limit = limit?.Value }, tx, cancellationToken: ct));
        if (reserved == 1)
            return null;

        var usage = await connection.QuerySingleAsync<(decimal Spent, decimal Reserved)>(new CommandDefinition(
            "SELECT spent_usd, reserved_usd FROM budget_usage WHERE agent_id = @AgentId AND period = @Period",
            new { AgentId = agentId, Period = period }, tx, cancellationToken: ct));
        return PolicyDecision.Deny(ReasonCodes.BudgetExceeded,
            $"Agent '{agentId}' has ${Usd(limit!.Value)} for {what}: ${Usd(usage.Spent)} spent and ${Usd(usage.Reserved)} reserved leave less than this call's ${Usd(cost)}.",
            limit.RuleId);
    }
}
