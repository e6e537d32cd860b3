using AgentBus.Contracts;

namespace AgentBus.Policy.Engine;

/// <summary>What policy decided and why: the rule, a code for machines, a sentence for people.</summary>
public sealed record PolicyDecision(Decision Decision, string ReasonCode, string Reason, string? RuleId = null)
{
    public static PolicyDecision Deny(string reasonCode, string reason, string? ruleId = null) =>
        new(Decision.Denied, reasonCode, reason, ruleId);
}
