using AgentBus.Contracts;
using AgentBus.Policy.Engine;
using AgentBus.ServiceDefaults.Json;
using AgentBus.ServiceDefaults.Messaging;
using AgentBus.ServiceDefaults.Telemetry;
using MassTransit;

namespace AgentBus.Policy.Approvals;

/// <summary>
/// What policy says about approvals, with ids derived from what each message is about, so that a
/// redone step (a redelivered proposal or outcome, a retried publish) repeats the same message and
/// idempotent consumers drop the repeat.
/// </summary>
public static class ApprovalMessages
{
    public static Guid RequestMessageId(Guid approvalId) => MessageIds.For(approvalId.ToString("D"), nameof(ApprovalRequested));

    /// <summary>The one consumption policy uses a grant with: the saga accepts the first and only that one again.</summary>
    public static Guid ConsumptionId(Guid approvalId) => MessageIds.For(approvalId.ToString("D"), nameof(ConsumeApproval));


    /// <summary>The approval request for one proposal, from the requirement the evaluator resolved.</summary>
    public static ApprovalRequested Request(ActionProposed proposal, ApprovalRequirement requirement, string? policyVersion) =>
        new(MessageIds.Approval(proposal.AgentId, proposal.ActionId), proposal.ActionId, proposal.RunId, proposal.AgentId, requirement.AgentTeam,
            proposal.Tool, proposal.Arguments, CanonicalJson.Hash(proposal.Arguments), requirement.RuleId, requirement.Group,
            requirement.Approvers, requirement.ExcludedApprovers, requirement.RequestedBy, requirement.RequestedAt, requirement.ExpiresAt,
            requirement.EscalationGroup, requirement.EscalationDelay, policyVersion, proposal.Intent, proposal.IdempotencyKey,
            Operation: proposal.Operation, Compensates: proposal.Compensates);

    public static Task PublishRequestAsync(IPublishEndpoint bus, ApprovalRequested request, CancellationToken ct) =>
        bus.Publish(request, send => send.MessageId = RequestMessageId(request.ApprovalId), ct);

    /// <summary>
    /// The approval_required decision, as evaluated when the proposal arrived; sent once the saga holds
    /// the approval (or again for a re-sent proposal), with the proposal's message id as correlation id.
    /// </summary>
    public static Task PublishRequiredAsync(IPublishEndpoint bus, PolicyApproval approval, string reason, DateTimeOffset decidedAt,
        string? proposalMessageId, CancellationToken ct) =>
        bus.Publish(new ActionDecided(approval.ActionId, approval.RunId, approval.AgentId, approval.Tool, Decision.ApprovalRequired,
            ReasonCodes.ApprovalRequired, reason, approval.RuleId, approval.PolicyVersion, decidedAt, approval.ApprovalId.ToString("D")), send =>
        {
            send.MessageId = MessageIds.ActionDecided(approval.AgentId, approval.ActionId);
            if (proposalMessageId is not null && send.TryGetPayload(out RabbitMqSendContext? amqp))
                amqp.BasicProperties.CorrelationId = proposalMessageId;
        }, ct);

    /// <summary>The agent's final decision on an action that needed approval.</summary>
    public static Task PublishFinalAsync(IPublishEndpoint bus, string actionId, string runId, string agentId, string tool, Decision decision,
        string reasonCode, string reason, string? ruleId, string? policyVersion, DateTimeOffset decidedAt, Guid approvalId, CancellationToken ct)
    {
        AgentBusMetrics.Decided(decision, reasonCode, ruleId);
        return bus.Publish(new ActionDecided(actionId, runId, agentId, tool, decision, reasonCode, reason, ruleId, policyVersion, decidedAt,
            approvalId.ToString("D")), send => send.MessageId = MessageIds.FinalDecision(agentId, actionId), ct);
    }
}
