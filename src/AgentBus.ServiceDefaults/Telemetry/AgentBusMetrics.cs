using System.Diagnostics.Metrics;
using AgentBus.Contracts;

namespace AgentBus.ServiceDefaults.Telemetry;

/// <summary>
/// Every AgentBus metric (meter "AgentBus"), each recorded at one place: the policy's decision,
/// the executor's tool call, MassTransit's retry filter, and the features that own approvals and
/// run completion. Tags are bounded sets (agents, tools and rules come from the policy file).
/// </summary>
public static class AgentBusMetrics
{
    static readonly Counter<long> Decisions = AgentBusTelemetry.Meter.CreateCounter<long>(
        "agentbus.decisions", "{decision}", "Decisions on proposals, by decision, reason code and rule.");

    static readonly Counter<long> ToolCalls = AgentBusTelemetry.Meter.CreateCounter<long>(
        "agentbus.tool.calls", "{call}", "Commands an executor finished, by tool and outcome (succeeded, failed, outcome_unknown, refused, cached, repeated).");

    static readonly Histogram<int> GroupCommits = AgentBusTelemetry.Meter.CreateHistogram<int>(
        "agentbus.group_commit.batch_size", "{request}",
        "Requests committed together in one transaction, by kind (admission, claim, outcome): one per commit, 1 when the service is not busy.");

    static readonly Histogram<double> ToolDuration = AgentBusTelemetry.Meter.CreateHistogram<double>(
        "agentbus.tool.duration", "s", "How long the tool call took, by tool and outcome.");

    static readonly Counter<long> MaskedResults = AgentBusTelemetry.Meter.CreateCounter<long>(
        "agentbus.tool.results_masked", "{result}", "Results in which the executor masked a class the agent may not receive, by tool, agent and class.");

    static readonly Counter<long> Retries = AgentBusTelemetry.Meter.CreateCounter<long>(
        "agentbus.retries", "{retry}", "Messages a service retries after its consumer threw, by queue and exception type.");

    static readonly Counter<double> Spend = AgentBusTelemetry.Meter.CreateCounter<double>(
        "agentbus.spend", "USD", "Money spent, by agent and source (a tool's name, or a category the agent reported).");

    static IReadOnlyDictionary<string, long> _approvalsPending = new Dictionary<string, long>();

    static readonly ObservableGauge<long> ApprovalsPending = AgentBusTelemetry.Meter.CreateObservableGauge(
        "agentbus.approvals.pending",
        () => Volatile.Read(ref _approvalsPending).Select(p => new Measurement<long>(p.Value, new KeyValuePair<string, object?>("tool", p.Key))),
        "{approval}", "Approvals waiting for people (pending or escalated), by tool, as the approvals service last counted them.");

    static long _authorizationsWaiting;
    static double _authorizationsOldestSeconds;

    static readonly ObservableGauge<long> AuthorizationsWaiting = AgentBusTelemetry.Meter.CreateObservableGauge(
        "agentbus.audit.authorizations_waiting", () => Volatile.Read(ref _authorizationsWaiting),
        "{command}", "Signed commands the audit has not recorded yet (policy_pending_authorizations), as a policy instance's sweeper last " +
        "counted them. It grows while the projections are down and drains when they return.");

    static readonly ObservableGauge<double> AuthorizationsOldest = AgentBusTelemetry.Meter.CreateObservableGauge(
        "agentbus.audit.authorizations_waiting.oldest_age", () => Volatile.Read(ref _authorizationsOldestSeconds),
        "s", "How long the oldest signed command not yet in the audit has waited; 0 when none waits.");

    static readonly Counter<long> ApprovalsResolved = AgentBusTelemetry.Meter.CreateCounter<long>(
        "agentbus.approvals.decided", "{approval}", "Approvals that reached an outcome, by tool, rule and resolution (granted, denied, expired, cancelled).");

    static readonly Histogram<double> ApprovalWait = AgentBusTelemetry.Meter.CreateHistogram<double>(
        "agentbus.approvals.wait_time", "s", "Time from an approval request to its resolution, by tool and resolution.");

    static readonly Histogram<double> RunCost = AgentBusTelemetry.Meter.CreateHistogram<double>(
        "agentbus.run.cost", "USD", "Total cost of a run that its agent reported as successful.");

    static readonly Counter<long> ShadowDecisions = AgentBusTelemetry.Meter.CreateCounter<long>(
        "agentbus.policy.shadow.decisions", "{decision}",
        "Proposals the shadow candidate also decided, by agreement (agreed, decision, terms) and the live and candidate decisions.");

    static readonly Counter<long> ShadowDropped = AgentBusTelemetry.Meter.CreateCounter<long>(
        "agentbus.policy.shadow.dropped", "{verdict}", "Shadow verdicts not recorded because the writer fell behind (its queue was full).");

    /// <summary>The shadow candidate's verdict on one proposal: agreed, or a disagreement of decision or of terms.</summary>
    public static void ShadowDecided(string agreement, Decision live, Decision candidate) =>
        ShadowDecisions.Add(1, new("agreement", agreement), new("live", live.WireName()), new("candidate", candidate.WireName()));

    public static void ShadowVerdictDropped() => ShadowDropped.Add(1);

    public static void GroupCommitted(string kind, int size) => GroupCommits.Record(size, new KeyValuePair<string, object?>("kind", kind));

    public static void Decided(Decision decision, string reasonCode, string? ruleId) =>
        Decisions.Add(1, new("decision", decision.WireName()), new("reason_code", reasonCode), new("rule_id", ruleId ?? ""));

    /// <summary>
    /// One finished command: its outcome, how long the tool call took (none when the tool was not
    /// called: refused, repeated, declared lost) and, when it cost something, the spend.
    /// </summary>
    public static void ToolCall(string tool, string agentId, string outcome, TimeSpan? duration = null, decimal costUsd = 0)
    {
        ToolCalls.Add(1, new("tool", tool), new("outcome", outcome));
        if (duration is { } took)
            ToolDuration.Record(took.TotalSeconds, new("tool", tool), new("outcome", outcome));
        if (costUsd > 0)
            Spend.Add((double)costUsd, new("agent_id", agentId), new("source", tool));
    }

    /// <summary>A result that carried <paramref name="dataClass"/>, which the agent is not cleared to receive.</summary>
    public static void ResultMasked(string tool, string agentId, string dataClass) =>
        MaskedResults.Add(1, new("tool", tool), new("agent_id", agentId), new("class", dataClass));

    public static void Retry(string queue, string exceptionType) =>
        Retries.Add(1, new("queue", queue), new("exception_type", exceptionType));

    /// <summary>A tool call attempted again inside one command (transient failure, idempotent tool).</summary>
    public static void ToolRetry(string tool) => Retries.Add(1, new KeyValuePair<string, object?>("tool", tool));

    /// <summary>Spend an agent reported itself (model inference and the like).</summary>
    public static void ReportedSpend(string agentId, string category, decimal amountUsd) =>
        Spend.Add((double)amountUsd, new("agent_id", agentId), new("source", category));

    /// <summary>The open approvals per tool, as the approvals service's sweeper counted them in the database.</summary>
    public static void ApprovalsOpen(IReadOnlyDictionary<string, long> byTool)
    {
        _ = ApprovalsPending;
        Volatile.Write(ref _approvalsPending, byTool);
    }

    /// <summary>The signed commands not yet in the audit, as the policy's sweeper counted them in the database.</summary>
    public static void AuthorizationsNotYetAudited(long count, TimeSpan oldest)
    {
        _ = (AuthorizationsWaiting, AuthorizationsOldest);
        Volatile.Write(ref _authorizationsWaiting, count);
        Volatile.Write(ref _authorizationsOldestSeconds, Math.Max(0, oldest.TotalSeconds));
    }

    public static void ApprovalResolved(string tool, string ruleId, string resolution, TimeSpan waited)
    {
        ApprovalsResolved.Add(1, new("tool", tool), new("rule_id", ruleId), new("resolution", resolution));
        ApprovalWait.Record(waited.TotalSeconds, new("tool", tool), new("resolution", resolution));
    }

    public static void SuccessfulRun(string agentId, decimal costUsd) =>
        RunCost.Record((double)costUsd, new KeyValuePair<string, object?>("agent_id", agentId));
}
