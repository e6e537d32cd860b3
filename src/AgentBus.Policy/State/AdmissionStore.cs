using System.Globalization;
using System.Text.Json;
using AgentBus.Catalog;
using AgentBus.Contracts;
using AgentBus.Policy.Engine;
using AgentBus.Policy.Proposals;
using AgentBus.ServiceDefaults.Json;
using Dapper;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
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
/// 0721): every limit is an atomic statement on a locked row (INSERT … ON CONFLICT … RETURNING,
/// UPDATE … WHERE used + cost &lt;= limit), so two instances can never both take the last unit of a
/// budget or rate; a refusal undoes all of it, so a denied proposal consumes nothing. One round trip
/// instead of one per statement: the agent's hot rows stay locked for microseconds, not for
/// seventeen network exchanges. Under load several admissions share one transaction and one commit
/// (<see cref="AdmissionGroup"/>), each still all or nothing, and batches from all instances queue on
/// one lock so they cannot deadlock. Refusals are worded here and recorded by a second statement.
/// </summary>
public sealed class AdmissionStore(NpgsqlDataSource database, IOptions<PolicyOptions> options, ILogger<AdmissionStore>? logger = null)
{
    readonly AdmissionGroup _group = new(database, (ILogger?)logger ?? NullLogger.Instance);

    sealed record StoredAction(
        string AgentId, string RunId, string Tool, string? Operation, string ArgumentsHash, string Decision, string ReasonCode, string Reason,
        string? RuleId, string? DuplicateOf, string? Approval, string? OutcomeType, string? OutcomePayload);

    const string StoredColumns = """
        agent_id AS AgentId, run_id AS RunId, tool AS Tool, operation AS Operation, arguments_hash AS ArgumentsHash, decision AS Decision,
        reason_code AS ReasonCode, reason AS Reason, rule_id AS RuleId, duplicate_of AS DuplicateOf,
        approval::text AS Approval, outcome_type AS OutcomeType, policy_outcome_payload(action_id) AS OutcomePayload
        """;

    /// <param name="command">For an allowed proposal, the command that will carry it out: kept for the audit in the admission's transaction, if admitted.</param>
    public async Task<Admission> AdmitAsync(ActionProposed proposal, PolicyDecision evaluated, string? policyVersion,
        DateTimeOffset now, CancellationToken ct, PendingAuthorization? command = null)
    {
        var argumentsHash = CanonicalJson.Hash(proposal.Arguments);
        if (evaluated.Decision == Decision.Denied)
        {
            await using var recording = await database.OpenConnectionAsync(ct);
            return await RecordAsync(recording, proposal, argumentsHash, evaluated, policyVersion, now, ct)
                ? new(AdmissionKind.New, evaluated)
                : await ReplayAsync(recording, proposal, argumentsHash, ct);
        }

        var terms = evaluated.Terms ?? throw new InvalidOperationException("A permitted decision carries admission terms.");
        var admitted = await _group.AdmitAsync(Request(proposal, argumentsHash, evaluated, terms, policyVersion, now, command), ct);
        if (admitted.Result == "admitted")
            return new(AdmissionKind.New, evaluated);

        await using var connection = await database.OpenConnectionAsync(ct);
        if (admitted.Result == "stored")
            return await ReplayAsync(connection, proposal, argumentsHash, ct);
        if (admitted.Result == "duplicate")
            return await DuplicateAsync(connection, proposal, argumentsHash, admitted.FirstActionId!, policyVersion, now, ct);

        var refusal = Refusal(new Refused(admitted.Result, admitted.RunStartedAt, admitted.Attempts, admitted.SpentUsd, admitted.ReservedUsd, null),
            proposal, terms, now);
        return await RecordAsync(connection, proposal, argumentsHash, refusal, policyVersion, now, ct)
            ? new(AdmissionKind.New, refusal)
            : await ReplayAsync(connection, proposal, argumentsHash, ct);
    }

    AdmissionRequest Request(ActionProposed proposal, string argumentsHash, PolicyDecision evaluated, AdmissionTerms terms, string? policyVersion,
        DateTimeOffset now, PendingAuthorization? command)
    {
        var (dedupeKey, window) = proposal.IdempotencyKey is { Length: > 0 } idempotencyKey
            ? ("key:" + idempotencyKey, options.Value.IdempotencyKeyWindow)
            : ($"args:{proposal.RunId}\n{Subject(proposal)}\n{argumentsHash}", options.Value.DuplicateWindow);
        var (windowStart, previousWeight) = RateWindow(now);
        return new(proposal.ActionId, proposal.AgentId, proposal.RunId, proposal.Tool, OperationName(proposal), argumentsHash,
            proposal.IdempotencyKey, now,
            DedupeKey: window > TimeSpan.Zero ? dedupeKey : null, DedupeExpiresAt: now + window,
            windowStart, previousWeight,
            terms.AgentCallsPerMinute?.Value, terms.ToolCallsPerMinute?.Value, terms.OperationCallsPerMinute?.Value,
            terms.RunToolCalls?.Value, terms.RunRetries?.Value, terms.RunDuration?.Value.TotalSeconds,
            terms.EstimatedCostUsd, DateOnly.FromDateTime(now.UtcDateTime), terms.PerDayUsd?.Value, terms.PerRunUsd?.Value,
            ReservationExpiresAt: (evaluated.Approval?.ExpiresAt ?? now) + options.Value.ReservationTimeout,
            evaluated.Decision.WireName(), evaluated.ReasonCode, evaluated.Reason, evaluated.RuleId, policyVersion,
            evaluated.Approval is { } approval ? JsonSerializer.SerializeToElement(approval) : null,
            command?.MessageId, command?.CorrelationId, command?.Command);
    }

    /// <summary>The refusal policy_admit or policy_readmit found, as they report it.</summary>
    sealed record Refused(string Result, DateTime? RunStartedAt, int? Attempts, decimal? SpentUsd, decimal? ReservedUsd, DateTime? HeldDay);

    /// <summary>
    /// Turns an admission refusal into words, naming the rule that set the limit: the wording is
    /// <see cref="AdmissionRefusals"/>' (shared with the admission model that policy tests and replays use);
    /// only the refusals the model never meets (a suspension, a budget found exceeded at a re-check) are worded here.
    /// </summary>
    static PolicyDecision Refusal(Refused refused, ActionProposed proposal, AdmissionTerms terms, DateTimeOffset now) => refused.Result switch
    {
        "agent_suspended" => PolicyDecision.AgentSuspended(proposal.AgentId),
        "tool_suspended" => PolicyDecision.ToolSuspended(proposal.Tool),
        "budget_day_held" => HeldBudget(proposal.AgentId, terms.PerDayUsd!, $"{DateOnly.FromDateTime(refused.HeldDay!.Value):yyyy-MM-dd} (UTC)", refused),
        "budget_run_held" => HeldBudget(proposal.AgentId, terms.PerRunUsd!, $"run '{proposal.RunId}'", refused),
        "agent_rate" or "tool_rate" or "operation_rate" or "run_time" or "run_tool_calls" or "run_retries" or "budget_day" or "budget_run" =>
            AdmissionRefusals.Describe(refused.Result, proposal, terms, now,
                refused.RunStartedAt is { } started ? new DateTimeOffset(DateTime.SpecifyKind(started, DateTimeKind.Utc)) : null,
                refused.Attempts, refused.SpentUsd, refused.ReservedUsd),
        _ => throw new InvalidOperationException($"The admission step answered '{refused.Result}', which this version does not know."),
    };

    static PolicyDecision HeldBudget(string agentId, RuleLimit<decimal> limit, string what, Refused usage) =>
        PolicyDecision.Deny(ReasonCodes.BudgetExceeded,
            $"Agent '{agentId}' now has ${Usd(limit.Value)} for {what}: ${Usd(usage.SpentUsd ?? 0)} spent and ${Usd(usage.ReservedUsd ?? 0)} reserved " +
            "(this action included) exceed it.", limit.RuleId);

    /// <summary>This action id was decided before: the same decision again (and its outcome, once known), nothing counted twice.</summary>
    static async Task<Admission> ReplayAsync(NpgsqlConnection connection, ActionProposed proposal, string argumentsHash, CancellationToken ct)
    {
        var stored = await connection.QuerySingleAsync<StoredAction>(new CommandDefinition(
            $"SELECT {StoredColumns} FROM policy_actions WHERE action_id = @ActionId", new { proposal.ActionId }, cancellationToken: ct));
        if (stored.AgentId != proposal.AgentId || stored.RunId != proposal.RunId || stored.Tool != proposal.Tool
            || stored.Operation != OperationName(proposal) || stored.ArgumentsHash != argumentsHash)
            return new(AdmissionKind.Replay, PolicyDecision.Deny(ReasonCodes.ActionIdReused,
                $"Action id {proposal.ActionId} was already used for a different action; use a new id for every action.", "idempotency"));
        var outcome = stored.OutcomeType is { } type ? new StoredOutcome(type, stored.OutcomePayload!) : null;
        if (outcome is null && stored.DuplicateOf is null && stored.Decision != "denied")
            outcome = await AwaitOutcomeAsync(connection, proposal.ActionId, ct);
        return new(AdmissionKind.Replay, Rebuild(stored), stored.DuplicateOf, outcome);
    }

    /// <summary>
    /// A replay of an action that may still have an outcome, none recorded: the row remembers that a replay
    /// waits, so the outcome is sent again when it is settled (policy_record_outcome, migration 0722). The
    /// outcome may have been recorded since the row was read: then it is returned, to be sent now.
    /// </summary>
    static async Task<StoredOutcome?> AwaitOutcomeAsync(NpgsqlConnection connection, string actionId, CancellationToken ct)
    {
        var marked = await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE policy_actions SET replay_waiting = true WHERE action_id = @ActionId AND outcome IS NULL", new { ActionId = actionId }, cancellationToken: ct));
        if (marked > 0)
            return null;
        var settled = await connection.QuerySingleAsync<(string? Type, string? Payload)>(new CommandDefinition(
            "SELECT outcome_type, policy_outcome_payload(action_id) FROM policy_actions WHERE action_id = @ActionId", new { ActionId = actionId }, cancellationToken: ct));
        return settled.Type is { } type ? new StoredOutcome(type, settled.Payload!) : null;
    }

    /// <summary>
    /// A granted approval goes back through the same admission rules before anything runs
    /// (policy_readmit, migration 0721), inside the caller's transaction, which holds the approval's
    /// row: the live kill switch; the rate windows, where the execution counts in the current minute;
    /// the run's wall-clock cap; and the budget under the limits in force now (the reservation made
    /// when the approval was requested is kept if it still fits, else, if the sweeper released it,
    /// reserved again). Run tool calls and retries were counted then and are not counted again.
    /// Returns the refusal, or null; a refusal undoes what this counted.
    /// </summary>
    public async Task<PolicyDecision?> ReadmitAsync(NpgsqlConnection connection, NpgsqlTransaction tx, ActionProposed proposal,
        AdmissionTerms terms, DateTimeOffset now, CancellationToken ct)
    {
        var (windowStart, previousWeight) = RateWindow(now);
        // Queued with the admission batches (migration 0770), which may hold this agent's and tool's rows in another order.
        await connection.ExecuteAsync(new CommandDefinition("SELECT policy_admission_lock()", transaction: tx, cancellationToken: ct));
        var refused = await connection.QuerySingleAsync<Refused>(new CommandDefinition("""
            SELECT result AS Result, run_started_at AS RunStartedAt, NULL::integer AS Attempts, spent_usd AS SpentUsd, reserved_usd AS ReservedUsd,
                   held_day::timestamp AS HeldDay
            FROM policy_readmit(@ActionId, @AgentId, @RunId, @Tool, @Operation, @Now, @WindowStart, @PreviousWeight, @AgentCallsPerMinute,
                @ToolCallsPerMinute, @OperationCallsPerMinute, @RunMaxDuration, @Cost, CAST(@Day AS date), @DayLimit, @RunLimit, @HoldUntil)
            """, new
        {
            proposal.ActionId, proposal.AgentId, proposal.RunId, proposal.Tool, Operation = OperationName(proposal), Now = now,
            WindowStart = windowStart, PreviousWeight = previousWeight,
            AgentCallsPerMinute = terms.AgentCallsPerMinute?.Value, ToolCallsPerMinute = terms.ToolCallsPerMinute?.Value,
            OperationCallsPerMinute = terms.OperationCallsPerMinute?.Value,
            RunMaxDuration = terms.RunDuration?.Value.TotalSeconds, Cost = terms.EstimatedCostUsd, Day = Today(now),
            DayLimit = terms.PerDayUsd?.Value, RunLimit = terms.PerRunUsd?.Value, HoldUntil = now + options.Value.ReservationTimeout,
        }, tx, cancellationToken: ct));
        return refused.Result == "admitted" ? null : Refusal(refused, proposal, terms, now);
    }

    /// <summary>"payments.refund" for a catalog operation, null for a generic tool: the operation's rate window and its row's name.</summary>
    static string? OperationName(ActionProposed proposal) => proposal.Operation is null ? null : $"{proposal.Tool}.{proposal.Operation}";

    /// <summary>What the action calls, in messages and keys: the operation, or the generic tool.</summary>
    static string Subject(ActionProposed proposal) => OperationName(proposal) ?? proposal.Tool;

    static (DateTimeOffset Start, double PreviousWeight) RateWindow(DateTimeOffset now) => AdmissionRefusals.RateWindow(now);

    static DateTime Today(DateTimeOffset now) => DateOnly.FromDateTime(now.UtcDateTime).ToDateTime(TimeOnly.MinValue);

    static PolicyDecision Rebuild(StoredAction stored)
    {
        if (!DecisionNames.TryParse(stored.Decision, out var decision))
            throw new InvalidOperationException($"Action {stored.AgentId}/{stored.RunId} has the unknown decision '{stored.Decision}' on record.");
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
            INSERT INTO policy_actions (action_id, agent_id, run_id, tool, operation, arguments_hash, idempotency_key, decision, reason_code,
                reason, rule_id, policy_version, duplicate_of, estimated_cost_usd, approval, decided_at)
            VALUES (@ActionId, @AgentId, @RunId, @Tool, @Operation, @ArgumentsHash, @IdempotencyKey, @Decision, @ReasonCode,
                @Reason, @RuleId, @PolicyVersion, @DuplicateOf, @Cost, CAST(@Approval AS jsonb), @Now)
            ON CONFLICT (action_id) DO NOTHING
            """, new
        {
            proposal.ActionId, proposal.AgentId, proposal.RunId, proposal.Tool, Operation = OperationName(proposal), ArgumentsHash = argumentsHash,
            proposal.IdempotencyKey, Decision = decision.Decision.WireName(), decision.ReasonCode, decision.Reason, decision.RuleId,
            PolicyVersion = policyVersion, DuplicateOf = duplicateOf, Cost = decision.Terms?.EstimatedCostUsd ?? 0m,
            Approval = decision.Approval is { } approval ? JsonSerializer.Serialize(approval) : null, Now = now,
        }, tx, cancellationToken: ct)) == 1;


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
            $"This proposal repeats action {firstActionId} ({how}); it gets that action's decision ({firstDecision.Decision.WireName()}: {first.Reason}) " +
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

    static string Usd(decimal value) => value.ToString("0.00####", CultureInfo.InvariantCulture);
}
