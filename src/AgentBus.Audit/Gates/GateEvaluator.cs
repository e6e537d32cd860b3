namespace AgentBus.Audit.Gates;

/// <summary>
/// What the audit says about one agent and one tool in the window (Tool null: the agent across all
/// its tools). Counts only, so the evaluation is pure arithmetic.
/// </summary>
public sealed record GateFacts(
    string AgentId,
    string? Tool,
    int Runs,
    int SuccessfulRuns,
    decimal CostUsd,
    int WriteActions,
    int CriticalErrors,
    int Executions,
    int CompleteExecutions,
    int UnapprovedWriteGrants);

public enum GateStatus
{
    Pass,
    Fail,

    /// <summary>Not enough evidence to judge: counts as a failure for a promotion check.</summary>
    NoData,

    /// <summary>No target configured: reported only.</summary>
    NotGated,
}

public sealed record GateResult(string Gate, decimal? Value, decimal? Target, GateStatus Status, string Detail);

public sealed record GateRow(GateFacts Facts, IReadOnlyList<GateResult> Results)
{
    public bool Passed => Results.All(r => r.Status is GateStatus.Pass or GateStatus.NotGated);
}

public sealed record GateReport(DateTimeOffset Since, IReadOnlyList<GateRow> Rows)
{
    public bool Passed => Rows.All(r => r.Passed);
}

public static class GateNames
{
    public const string CompletionRate = "completion_rate";
    public const string CriticalErrorRate = "critical_error_rate";
    public const string CostPerSuccessfulRun = "cost_per_successful_run_usd";
    public const string AuditCoverage = "audit_coverage";
    public const string UnapprovedWriteGrants = "unapproved_write_grants";
}

public static class GateEvaluator
{
    public static GateReport Evaluate(DateTimeOffset since, IEnumerable<GateFacts> facts, GateConfig config) =>
        new(since, facts.OrderBy(f => f.AgentId, StringComparer.Ordinal).ThenBy(f => f.Tool is null ? 0 : 1).ThenBy(f => f.Tool, StringComparer.Ordinal)
            .Select(f => Evaluate(f, config.TargetsFor(f.AgentId), config.MinRuns)).ToList());

    public static GateRow Evaluate(GateFacts f, GateTargets targets, int minRuns)
    {
        var enoughRuns = f.Runs >= Math.Max(minRuns, 1);
        var runsNote = $"{f.Runs} finished run(s), {minRuns} needed";
        var results = new List<GateResult>
        {
            AtLeast(GateNames.CompletionRate, enoughRuns ? Share(f.SuccessfulRuns, f.Runs) : null, targets.CompletionRate,
                enoughRuns ? $"{f.SuccessfulRuns} of {f.Runs} runs reported successful" : runsNote),
            f.WriteActions == 0
                ? new(GateNames.CriticalErrorRate, null, (decimal?)targets.CriticalErrorRate, targets.CriticalErrorRate is null ? GateStatus.NotGated : GateStatus.Pass,
                    "no write actions")
                : AtMost(GateNames.CriticalErrorRate, Share(f.CriticalErrors, f.WriteActions), (decimal?)targets.CriticalErrorRate,
                    $"{f.CriticalErrors} of {f.WriteActions} write actions failed or have an unknown outcome"),
            CostPerSuccess(f, targets, enoughRuns, runsNote),
            f.Executions == 0
                ? new(GateNames.AuditCoverage, null, (decimal?)targets.AuditCoverage, targets.AuditCoverage is null ? GateStatus.NotGated : GateStatus.Pass,
                    "no executions")
                : AtLeast(GateNames.AuditCoverage, Share(f.CompleteExecutions, f.Executions), targets.AuditCoverage,
                    $"{f.CompleteExecutions} of {f.Executions} executions have proposal, decision, authorization and outcome"),
            AtMost(GateNames.UnapprovedWriteGrants, f.UnapprovedWriteGrants, targets.UnapprovedWriteGrants,
                $"{f.UnapprovedWriteGrants} write grant(s) run without approval"),
        };
        return new GateRow(f, results);
    }

    static GateResult CostPerSuccess(GateFacts f, GateTargets targets, bool enoughRuns, string runsNote)
    {
        if (!enoughRuns)
            return AtMost(GateNames.CostPerSuccessfulRun, null, targets.CostPerSuccessfulRunUsd, runsNote);
        if (f.SuccessfulRuns == 0)
            return new(GateNames.CostPerSuccessfulRun, null, targets.CostPerSuccessfulRunUsd,
                targets.CostPerSuccessfulRunUsd is null ? GateStatus.NotGated : GateStatus.Fail, $"${f.CostUsd:0.######} spent, no successful run");
        var value = Math.Round(f.CostUsd / f.SuccessfulRuns, 6);
        return AtMost(GateNames.CostPerSuccessfulRun, value, targets.CostPerSuccessfulRunUsd,
            $"${f.CostUsd:0.######} over {f.SuccessfulRuns} successful run(s)");
    }

    static decimal Share(int part, int whole) => Math.Round((decimal)part / whole, 4);

    static GateResult AtLeast(string gate, decimal? value, double? target, string detail) =>
        new(gate, value, (decimal?)target, target is null ? GateStatus.NotGated
            : value is null ? GateStatus.NoData
            : value >= (decimal)target ? GateStatus.Pass : GateStatus.Fail, detail);

    static GateResult AtMost(string gate, decimal? value, decimal? target, string detail) =>
        new(gate, value, target, target is null ? GateStatus.NotGated
            : value is null ? GateStatus.NoData
            : value <= target ? GateStatus.Pass : GateStatus.Fail, detail);
}
