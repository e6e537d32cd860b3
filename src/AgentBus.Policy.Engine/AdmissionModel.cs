using System.Globalization;
using System.Text;
using System.Text.Json;
using AgentBus.Contracts;

namespace AgentBus.Policy.Engine;

/// <summary>The windows the policy service's admission uses (Policy:DuplicateWindow, IdempotencyKeyWindow, ReservationTimeout), with its defaults.</summary>
public sealed record AdmissionModelOptions
{
    public TimeSpan DuplicateWindow { get; init; } = TimeSpan.FromMinutes(10);
    public TimeSpan IdempotencyKeyWindow { get; init; } = TimeSpan.FromHours(24);
    public TimeSpan ReservationTimeout { get; init; } = TimeSpan.FromHours(1);
}

/// <summary>How a decision came about, as the service's AdmissionKind: decided now, the same action id again, or a repeat of an admitted action.</summary>
public enum ModeledAdmissionKind
{
    New,
    Replay,
    Duplicate,
}

public sealed record ModeledAdmission(ModeledAdmissionKind Kind, PolicyDecision Decision, string? DuplicateOf = null);

/// <summary>How an admitted action ended, as the executor reports it.</summary>
public enum ModeledOutcome
{
    Succeeded,
    Failed,

    /// <summary>It may have happened: settled at the estimate.</summary>
    OutcomeUnknown,
}

/// <summary>What one budget period holds: spent (settled) and reserved (admitted, not yet settled).</summary>
public readonly record struct BudgetUsage(decimal SpentUsd, decimal ReservedUsd);

/// <summary>
/// The stateful admission step (rates, run caps, budgets, idempotency) in memory, for
/// `agentbus policy test` sequences and for re-deciding recorded traffic against a candidate policy.
/// It mirrors the database function policy_admit (migrations 0702 and 0721) and settlement
/// (policy_record_outcome, 0722) rule for rule, in the same order, with the same arithmetic:
/// <list type="bullet">
/// <item>the same action id again is a replay of its first decision (or action_id_reused for another action);</item>
/// <item>an idempotency key, or else the run, operation and canonical arguments, claims the action for
/// the duplicate window; a repeat while the claim holds is duplicate_action with the first's decision;</item>
/// <item>sliding one-minute windows per agent, tool and operation: previous minute × overlap + this minute + 1 ≤ limit,
/// counted only where a limit is set;</item>
/// <item>the run's wall-clock cap, its tool calls, retries of the same operation and arguments;</item>
/// <item>the estimated cost reserved against the day's (UTC) and the run's budget: spent + reserved + cost ≤ limit;</item>
/// <item>a refusal changes nothing; an admitted or approval-required action counts everywhere.</item>
/// </list>
/// Where it differs from the service: reservations whose approval expired are released at the next
/// admission (the sweeper does it within Policy:SweepInterval); the kill switch and the compensation
/// check are the evaluator's and the caller's business (the service checks both again against the
/// database); a granted approval's re-check (policy_readmit) is not modelled; arguments are compared by
/// a canonical form that equals RFC 8785's for equality, not by its SHA-256.
/// Not thread-safe: one model is one replayed timeline.
/// </summary>
public sealed class AdmissionModel(AdmissionModelOptions? options = null)
{
    readonly AdmissionModelOptions _options = options ?? new AdmissionModelOptions();

    sealed record StoredAction(string AgentId, string RunId, string Tool, string? Operation, string Arguments, PolicyDecision Decision, string? DuplicateOf)
    {
        public bool Settled { get; set; }
    }

    sealed class Charge(string agentId, string runId, DateOnly day, decimal reservedUsd, DateTimeOffset expiresAt)
    {
        public string AgentId { get; } = agentId;
        public string RunId { get; } = runId;
        public DateOnly Day { get; } = day;
        public decimal ReservedUsd { get; } = reservedUsd;
        public DateTimeOffset ExpiresAt { get; } = expiresAt;
        public string Status { get; set; } = "reserved";
    }

    sealed class Run(DateTimeOffset startedAt)
    {
        public DateTimeOffset StartedAt { get; } = startedAt;
        public int ToolCalls { get; set; }
    }

    readonly Dictionary<string, StoredAction> _actions = new(StringComparer.Ordinal);
    readonly Dictionary<(string Agent, string Key), (string ActionId, DateTimeOffset ExpiresAt)> _claims = [];
    readonly Dictionary<(string Scope, string Subject, DateTimeOffset Start), int> _rates = [];
    readonly Dictionary<(string Agent, string Run), Run> _runs = [];
    readonly Dictionary<(string Agent, string Run, string Subject, string Arguments), int> _attempts = [];
    readonly Dictionary<(string Agent, string Period), BudgetUsage> _budgets = [];
    readonly Dictionary<string, Charge> _ledger = new(StringComparer.Ordinal);
    readonly HashSet<(string Agent, string ReportId)> _reports = [];

    /// <summary>
    /// The final decision for a proposal, given what the pure evaluator decided at <paramref name="now"/>:
    /// a denial is recorded as it is; a permitted decision goes through the stateful rules, and is
    /// either admitted (counted, its cost reserved) or refused in the words the service uses.
    /// </summary>
    public ModeledAdmission Admit(ActionProposed proposal, PolicyDecision evaluated, DateTimeOffset now)
    {
        var arguments = CanonicalArguments(proposal.Arguments);
        if (_actions.TryGetValue(proposal.ActionId, out var stored))
            return Replay(proposal, arguments, stored);

        ReleaseExpired(now);
        if (evaluated.Decision == Decision.Denied)
        {
            Record(proposal, arguments, evaluated, null);
            return new(ModeledAdmissionKind.New, evaluated);
        }

        var terms = evaluated.Terms ?? throw new ArgumentException("A permitted decision carries admission terms.", nameof(evaluated));
        var operation = OperationName(proposal);
        var subject = operation ?? proposal.Tool;

        // The claim: an idempotency key, or the run, subject and arguments, for its window.
        var (claimKey, window) = proposal.IdempotencyKey is { Length: > 0 } key
            ? ("key:" + key, _options.IdempotencyKeyWindow)
            : ($"args:{proposal.RunId}\n{subject}\n{arguments}", _options.DuplicateWindow);
        var claims = window > TimeSpan.Zero;
        if (claims && _claims.TryGetValue((proposal.AgentId, claimKey), out var claim) && claim.ExpiresAt > now)
            return Duplicate(proposal, arguments, claim.ActionId);

        var (windowStart, previousWeight) = AdmissionRefusals.RateWindow(now);
        string? refusal = null;
        if (!RateFits("agent", proposal.AgentId, windowStart, previousWeight, terms.AgentCallsPerMinute?.Value))
            refusal = "agent_rate";
        else if (!RateFits("tool", proposal.Tool, windowStart, previousWeight, terms.ToolCallsPerMinute?.Value))
            refusal = "tool_rate";
        else if (operation is not null && !RateFits("operation", operation, windowStart, previousWeight, terms.OperationCallsPerMinute?.Value))
            refusal = "operation_rate";

        var run = _runs.GetValueOrDefault((proposal.AgentId, proposal.RunId));
        var startedAt = run?.StartedAt ?? now;
        var attempts = _attempts.GetValueOrDefault((proposal.AgentId, proposal.RunId, subject, arguments)) + 1;
        var day = DateOnly.FromDateTime(now.UtcDateTime);
        var dayUsage = _budgets.GetValueOrDefault((proposal.AgentId, DayPeriod(day)));
        var runUsage = _budgets.GetValueOrDefault((proposal.AgentId, RunPeriod(proposal.RunId)));
        var cost = terms.EstimatedCostUsd;
        BudgetUsage? refusedUsage = null;
        if (refusal is null)
        {
            if (terms.RunDuration is { } duration && now - startedAt > duration.Value)
                refusal = "run_time";
            else if (terms.RunToolCalls is { } calls && (run?.ToolCalls ?? 0) >= calls.Value)
                refusal = "run_tool_calls";
            else if (terms.RunRetries is { } retries && attempts - 1 > retries.Value)
                refusal = "run_retries";
            else if (!Fits(dayUsage, cost, terms.PerDayUsd?.Value))
                (refusal, refusedUsage) = ("budget_day", dayUsage);
            else if (!Fits(runUsage, cost, terms.PerRunUsd?.Value))
                (refusal, refusedUsage) = ("budget_run", runUsage);
        }

        if (refusal is not null)
        {
            var denied = AdmissionRefusals.Describe(refusal, proposal, terms, now, startedAt, attempts, refusedUsage?.SpentUsd, refusedUsage?.ReservedUsd);
            Record(proposal, arguments, denied, null);
            return new(ModeledAdmissionKind.New, denied);
        }

        // Admitted: everything counts, as one transaction would commit it.
        if (claims)
            _claims[(proposal.AgentId, claimKey)] = (proposal.ActionId, now + window);
        Count("agent", proposal.AgentId, windowStart, terms.AgentCallsPerMinute);
        Count("tool", proposal.Tool, windowStart, terms.ToolCallsPerMinute);
        if (operation is not null)
            Count("operation", operation, windowStart, terms.OperationCallsPerMinute);
        run ??= _runs[(proposal.AgentId, proposal.RunId)] = new Run(now);
        run.ToolCalls++;
        _attempts[(proposal.AgentId, proposal.RunId, subject, arguments)] = attempts;
        _budgets[(proposal.AgentId, DayPeriod(day))] = dayUsage with { ReservedUsd = dayUsage.ReservedUsd + cost };
        _budgets[(proposal.AgentId, RunPeriod(proposal.RunId))] = runUsage with { ReservedUsd = runUsage.ReservedUsd + cost };
        _ledger[proposal.ActionId] = new Charge(proposal.AgentId, proposal.RunId, day, cost,
            (evaluated.Approval?.ExpiresAt ?? now) + _options.ReservationTimeout);
        Record(proposal, arguments, evaluated, null);
        return new(ModeledAdmissionKind.New, evaluated);
    }

    /// <summary>
    /// An admitted action's outcome, as policy_record_outcome settles it: succeeded at
    /// <paramref name="actualCostUsd"/> (or the estimate), an unknown outcome at the estimate, a failure
    /// releases the reservation. False when there is nothing to settle (unknown action, a denial, a
    /// duplicate, or settled already).
    /// </summary>
    public bool Settle(string actionId, ModeledOutcome outcome, decimal? actualCostUsd = null)
    {
        if (!_actions.TryGetValue(actionId, out var action) || action.Settled || action.Decision.Decision == Decision.Denied)
            return false;
        action.Settled = true;
        if (action.DuplicateOf is not null || !_ledger.TryGetValue(actionId, out var charge) || charge.Status == "settled")
            return true;
        var amount = outcome switch
        {
            ModeledOutcome.Succeeded => actualCostUsd ?? charge.ReservedUsd,
            ModeledOutcome.OutcomeUnknown => charge.ReservedUsd,
            _ => 0m,
        };
        var held = charge.Status == "reserved" ? charge.ReservedUsd : 0m;
        Adjust(charge.AgentId, charge.RunId, charge.Day, -held, amount);
        charge.Status = outcome == ModeledOutcome.Failed ? "released" : "settled";
        return true;
    }

    /// <summary>Inference spend an agent reported (SpendReported): counted once per report id, in today's and the run's budget.</summary>
    public bool ReportSpend(string agentId, string runId, string reportId, decimal amountUsd, DateTimeOffset now)
    {
        if (!_reports.Add((agentId, reportId)))
            return false;
        Adjust(agentId, runId, DateOnly.FromDateTime(now.UtcDateTime), 0m, amountUsd);
        return true;
    }

    /// <summary>What an agent's budget holds for one UTC day.</summary>
    public BudgetUsage DayUsage(string agentId, DateOnly day) => _budgets.GetValueOrDefault((agentId, DayPeriod(day)));

    /// <summary>What an agent's budget holds for one run.</summary>
    public BudgetUsage RunUsage(string agentId, string runId) => _budgets.GetValueOrDefault((agentId, RunPeriod(runId)));

    ModeledAdmission Replay(ActionProposed proposal, string arguments, StoredAction stored)
    {
        if (stored.AgentId != proposal.AgentId || stored.RunId != proposal.RunId || stored.Tool != proposal.Tool
            || stored.Operation != OperationName(proposal) || stored.Arguments != arguments)
            return new(ModeledAdmissionKind.Replay, PolicyDecision.Deny(ReasonCodes.ActionIdReused,
                $"Action id {proposal.ActionId} was already used for a different action; use a new id for every action.", "idempotency"));
        return new(ModeledAdmissionKind.Replay, stored.Decision with { Terms = null }, stored.DuplicateOf);
    }

    ModeledAdmission Duplicate(ActionProposed proposal, string arguments, string firstActionId)
    {
        var first = _actions[firstActionId].Decision;
        var how = proposal.IdempotencyKey is { Length: > 0 } ? "its idempotency key" : "its run, tool and arguments";
        var decision = new PolicyDecision(first.Decision, ReasonCodes.DuplicateAction,
            $"This proposal repeats action {firstActionId} ({how}); it gets that action's decision ({first.Decision.WireName()}: {first.Reason}) " +
            "and outcome, and is not executed again.", "idempotency")
        {
            Approval = first.Approval,
        };
        Record(proposal, arguments, decision, firstActionId);
        return new(ModeledAdmissionKind.Duplicate, decision, firstActionId);
    }

    void Record(ActionProposed proposal, string arguments, PolicyDecision decision, string? duplicateOf) =>
        _actions[proposal.ActionId] = new StoredAction(proposal.AgentId, proposal.RunId, proposal.Tool, OperationName(proposal), arguments, decision, duplicateOf);

    bool RateFits(string scope, string subject, DateTimeOffset windowStart, double previousWeight, int? limit)
    {
        if (limit is null)
            return true;
        // float8 arithmetic, as policy_take_rate does it.
        var carried = _rates.GetValueOrDefault((scope, subject, windowStart - TimeSpan.FromMinutes(1))) * previousWeight;
        return carried + _rates.GetValueOrDefault((scope, subject, windowStart)) + 1 <= limit.Value;
    }

    /// <summary>policy_take_rate counts a call only in a window that has a limit.</summary>
    void Count(string scope, string subject, DateTimeOffset windowStart, RuleLimit<int>? limit)
    {
        if (limit is not null)
            _rates[(scope, subject, windowStart)] = _rates.GetValueOrDefault((scope, subject, windowStart)) + 1;
    }

    static bool Fits(BudgetUsage usage, decimal cost, decimal? limit) => limit is null || usage.SpentUsd + usage.ReservedUsd + cost <= limit.Value;

    /// <summary>policy_adjust_budget: both periods, reserved never below zero.</summary>
    void Adjust(string agentId, string runId, DateOnly day, decimal reservedDelta, decimal spentDelta)
    {
        foreach (var period in new[] { DayPeriod(day), RunPeriod(runId) })
        {
            var usage = _budgets.GetValueOrDefault((agentId, period));
            _budgets[(agentId, period)] = new BudgetUsage(usage.SpentUsd + spentDelta, Math.Max(usage.ReservedUsd + reservedDelta, 0m));
        }
    }

    /// <summary>The sweeper: reservations whose outcome never came are released once they expire.</summary>
    void ReleaseExpired(DateTimeOffset now)
    {
        foreach (var charge in _ledger.Values)
            if (charge.Status == "reserved" && charge.ExpiresAt < now)
            {
                Adjust(charge.AgentId, charge.RunId, charge.Day, -charge.ReservedUsd, 0m);
                charge.Status = "released";
            }
    }

    static string DayPeriod(DateOnly day) => "day:" + day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    static string RunPeriod(string runId) => "run:" + runId;

    static string? OperationName(ActionProposed proposal) => proposal.Operation is null ? null : $"{proposal.Tool}.{proposal.Operation}";

    /// <summary>
    /// Equal exactly when RFC 8785 forms are equal: keys sorted by UTF-16 code units, numbers by their
    /// double value (the service hashes CanonicalJson, which lives with the hosts, not here).
    /// </summary>
    internal static string CanonicalArguments(JsonElement arguments)
    {
        var builder = new StringBuilder();
        Write(arguments, builder);
        return builder.ToString();

        static void Write(JsonElement value, StringBuilder builder)
        {
            switch (value.ValueKind)
            {
                case JsonValueKind.Object:
                    builder.Append('{');
                    var first = true;
                    foreach (var property in value.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                    {
                        if (!first) builder.Append(',');
                        first = false;
                        builder.Append(JsonSerializer.Serialize(property.Name)).Append(':');
                        Write(property.Value, builder);
                    }
                    builder.Append('}');
                    break;
                case JsonValueKind.Array:
                    builder.Append('[');
                    var head = true;
                    foreach (var item in value.EnumerateArray())
                    {
                        if (!head) builder.Append(',');
                        head = false;
                        Write(item, builder);
                    }
                    builder.Append(']');
                    break;
                case JsonValueKind.String:
                    builder.Append(JsonSerializer.Serialize(value.GetString()));
                    break;
                case JsonValueKind.Number:
                    builder.Append(value.GetDouble().ToString("R", CultureInfo.InvariantCulture));
                    break;
                case JsonValueKind.Undefined:
                    builder.Append("null");
                    break;
                default:
                    builder.Append(value.GetRawText());
                    break;
            }
        }
    }
}

/// <summary>
/// The words for an admission refusal, as AdmissionStore.Refusal in the policy service writes them
/// (kept identical; the service's copy is the one in force), naming the rule that set the limit.
/// </summary>
public static class AdmissionRefusals
{
    /// <summary>The current minute's start, and how much of the previous minute still counts in the sliding one-minute window.</summary>
    public static (DateTimeOffset Start, double PreviousWeight) RateWindow(DateTimeOffset now)
    {
        var utc = now.ToUniversalTime();
        var start = new DateTimeOffset(utc.Year, utc.Month, utc.Day, utc.Hour, utc.Minute, 0, TimeSpan.Zero);
        return (start, 1.0 - (utc - start).TotalSeconds / 60.0);
    }

    /// <param name="refusal">policy_admit's result: agent_rate, tool_rate, operation_rate, run_time, run_tool_calls, run_retries, budget_day, budget_run.</param>
    public static PolicyDecision Describe(string refusal, ActionProposed proposal, AdmissionTerms terms, DateTimeOffset now,
        DateTimeOffset? runStartedAt, int? attempts, decimal? spentUsd, decimal? reservedUsd)
    {
        var subject = proposal.Operation is null ? proposal.Tool : $"{proposal.Tool}.{proposal.Operation}";
        var day = DateOnly.FromDateTime(now.UtcDateTime);
        return refusal switch
        {
            "agent_rate" => PolicyDecision.Deny(ReasonCodes.RateLimited,
                $"Agent '{proposal.AgentId}' is at its limit of {terms.AgentCallsPerMinute!.Value} calls per minute; try again shortly.",
                terms.AgentCallsPerMinute.RuleId),
            "tool_rate" => PolicyDecision.Deny(ReasonCodes.RateLimited,
                $"Tool '{proposal.Tool}' is at its limit of {terms.ToolCallsPerMinute!.Value} calls per minute; try again shortly.",
                terms.ToolCallsPerMinute.RuleId),
            "operation_rate" => PolicyDecision.Deny(ReasonCodes.RateLimited,
                $"Operation '{subject}' is at its limit of {terms.OperationCallsPerMinute!.Value} calls per minute; try again shortly.",
                terms.OperationCallsPerMinute.RuleId),
            "run_time" => PolicyDecision.Deny(ReasonCodes.RunTimeExceeded,
                $"Run '{proposal.RunId}' started at {runStartedAt!.Value.ToUniversalTime():u} " +
                $"and may last {Durations.Format(terms.RunDuration!.Value)}; start a new run.", terms.RunDuration.RuleId),
            "run_tool_calls" => PolicyDecision.Deny(ReasonCodes.RunToolCallsExceeded,
                $"Run '{proposal.RunId}' has used its {terms.RunToolCalls!.Value} tool calls.", terms.RunToolCalls.RuleId),
            "run_retries" => PolicyDecision.Deny(ReasonCodes.RunRetriesExceeded,
                $"Run '{proposal.RunId}' already tried this exact {subject} action {attempts!.Value - 1} time(s); " +
                $"at most {terms.RunRetries!.Value} retries are allowed.", terms.RunRetries.RuleId),
            "budget_day" => Budget(proposal.AgentId, terms.PerDayUsd!, $"today ({day:yyyy-MM-dd} UTC)", spentUsd, reservedUsd, terms.EstimatedCostUsd),
            "budget_run" => Budget(proposal.AgentId, terms.PerRunUsd!, $"run '{proposal.RunId}'", spentUsd, reservedUsd, terms.EstimatedCostUsd),
            _ => throw new ArgumentException($"Unknown admission refusal '{refusal}'.", nameof(refusal)),
        };
    }

    static PolicyDecision Budget(string agentId, RuleLimit<decimal> limit, string what, decimal? spent, decimal? reserved, decimal cost) =>
        PolicyDecision.Deny(ReasonCodes.BudgetExceeded,
            $"Agent '{agentId}' has ${Usd(limit.Value)} for {what}: ${Usd(spent ?? 0)} spent and ${Usd(reserved ?? 0)} reserved " +
            $"leave less than this call's ${Usd(cost)}.", limit.RuleId);

    static string Usd(decimal value) => value.ToString("0.00####", CultureInfo.InvariantCulture);
}
