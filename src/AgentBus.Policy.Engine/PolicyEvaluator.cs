using AgentBus.Contracts;

namespace AgentBus.Policy.Engine;

/// <summary>
/// Decides one proposal against one policy snapshot. Pure: no bus, no database, no clock, so the
/// whole decision order is unit-tested directly. Deny is the default at every step.
/// </summary>
public static class PolicyEvaluator
{
    static readonly ProposalValidator Validator = new();

    public static PolicyDecision Evaluate(ActionProposed proposal, string? brokerUserId, PolicySnapshot? policy)
    {
        var invalid = Validator.Validate(proposal);
        if (!invalid.IsValid)
        {
            var first = invalid.Errors[0];
            return PolicyDecision.Deny(first.ErrorCode, first.ErrorMessage, "envelope");
        }

        if (brokerUserId is null)
            return PolicyDecision.Deny(ReasonCodes.IdentityMissing,
                $"The proposal claims agent '{proposal.AgentId}' but carries no AMQP user_id; set user_id to your broker user name.", "identity");
        if (!string.Equals(brokerUserId, proposal.AgentId, StringComparison.Ordinal))
            return PolicyDecision.Deny(ReasonCodes.IdentityMismatch,
                $"Broker user '{brokerUserId}' may not propose as agent '{proposal.AgentId}'.", "identity");

        if (policy is null)
            return PolicyDecision.Deny(ReasonCodes.PolicyUnavailable, "No policy is loaded, so every action is denied.", "default-deny");
        if (!policy.Agents.ContainsKey(proposal.AgentId))
            return PolicyDecision.Deny(ReasonCodes.UnknownAgent, $"Agent '{proposal.AgentId}' is not in the policy.", "default-deny");
        if (!policy.Tools.ContainsKey(proposal.Tool))
            return PolicyDecision.Deny(ReasonCodes.UnknownTool, $"Tool '{proposal.Tool}' is not in the policy.", "default-deny");
        if (!policy.Grants.TryGetValue((proposal.AgentId, proposal.Tool), out var grant))
            return PolicyDecision.Deny(ReasonCodes.NoGrant, $"Agent '{proposal.AgentId}' has no grant for tool '{proposal.Tool}'.", "default-deny");

        return new PolicyDecision(Decision.Allowed, ReasonCodes.Allowed,
            $"Grant '{grant.Id}' lets agent '{proposal.AgentId}' use tool '{proposal.Tool}'.", grant.Id);
    }
}
