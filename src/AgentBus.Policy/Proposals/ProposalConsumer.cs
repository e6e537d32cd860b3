using System.Security.Cryptography;
using AgentBus.Contracts;
using AgentBus.Policy.Engine;
using AgentBus.ServiceDefaults.Messaging;
using AgentBus.ServiceDefaults.Telemetry;
using MassTransit;

namespace AgentBus.Policy.Proposals;

/// <summary>
/// Turns one proposal into one decision, and an allowed one into an ExecuteTool for that tool's
/// queue. Message ids are derived from the sender and action, so a redelivered proposal repeats
/// the same messages and downstream consumers drop the repeat.
/// </summary>
public sealed class ProposalConsumer(PolicyStore policies, ExecutionAuthorizer authorizer, TimeProvider clock, ILogger<ProposalConsumer> logger)
    : IConsumer<ActionProposed>
{
    public async Task Consume(ConsumeContext<ActionProposed> context)
    {
        var sender = context.BrokerUserId();
        var proposal = context.Message;
        var rejected = context.ReceiveContext.TryGetPayload(out IngressRejection? rejection);

        var decision = rejected
            ? PolicyDecision.Deny(rejection!.ReasonCode, rejection.Detail, "envelope")
            : PolicyEvaluator.Evaluate(proposal, sender, policies.Current);

        var actionId = rejected ? rejection!.ActionId : proposal.ActionId;
        var runId = rejected ? rejection!.RunId : proposal.RunId;
        var tool = rejected ? rejection!.Tool : proposal.Tool;
        AgentBusTelemetry.TagAction(actionId, runId);

        var subject = decision.ReasonCode is ReasonCodes.MissingField or ReasonCodes.InvalidField || rejected || actionId is null
            ? $"{sender}:body:{Convert.ToHexStringLower(SHA256.HashData(context.ReceiveContext.Body.GetBytes()))}"
            : $"{sender}:{actionId}";

        var decided = new ActionDecided(actionId, runId, sender ?? "", tool, decision.Decision, decision.ReasonCode,
            decision.Reason, decision.RuleId, policies.Current?.Version, clock.GetUtcNow());
        AgentBusMetrics.Decided(decision.Decision, decision.ReasonCode, decision.RuleId);

        await context.Publish(decided, send =>
        {
            send.MessageId = MessageIds.For(subject, nameof(ActionDecided));
            if (context.TryGetPayload(out RabbitMqBasicConsumeContext? received) && received.Properties.IsMessageIdPresent()
                && send.TryGetPayload(out RabbitMqSendContext? reply))
                reply.BasicProperties.CorrelationId = received.Properties.MessageId;
        }, context.CancellationToken);

        logger.LogInformation("Action {ActionId} of agent {AgentId} for tool {Tool}: {Decision} ({ReasonCode}, rule {RuleId})",
            actionId, sender, tool, decision.Decision, decision.ReasonCode, decision.RuleId);

        if (decision.Decision != Decision.Allowed)
            return;

        var execute = authorizer.Authorize(proposal);
        // Mandatory: a tool with no queue bound returns the command, which fails this consume and
        // keeps the proposal for a retry, instead of the broker dropping an allowed action.
        await context.Publish(execute, send =>
        {
            send.MessageId = MessageIds.For(subject, nameof(ExecuteTool));
            send.Mandatory = true;
        }, context.CancellationToken);
    }
}
