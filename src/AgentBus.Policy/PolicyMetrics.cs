using System.Diagnostics.Metrics;
using AgentBus.Policy.Engine;
using AgentBus.ServiceDefaults.Telemetry;

namespace AgentBus.Policy;

/// <summary>Decisions by outcome, reason and rule, on the AgentBus meter.</summary>
static class PolicyMetrics
{
    static readonly Counter<long> Decisions = AgentBusTelemetry.Meter.CreateCounter<long>("agentbus.policy.decisions",
        description: "Policy decisions by outcome, reason code and rule");

    public static void Decided(PolicyDecision decision) =>
        Decisions.Add(1,
            new KeyValuePair<string, object?>("decision", State.AdmissionStore.DecisionName(decision.Decision)),
            new KeyValuePair<string, object?>("reason_code", decision.ReasonCode),
            new KeyValuePair<string, object?>("rule_id", decision.RuleId));
}
