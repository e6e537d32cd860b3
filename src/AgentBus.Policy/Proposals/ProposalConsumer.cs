using System.Security.Cryptography;
using AgentBus.Contracts;
using AgentBus.Policy.Approvals;
using AgentBus.Policy.Engine;
using AgentBus.Policy.Rollback;
using AgentBus.Policy.Shadow;
using AgentBus.Policy.State;
using AgentBus.ServiceDefaults.Messaging;
using AgentBus.ServiceDefaults.Telemetry;
using MassTransit;

namespace AgentBus.Policy.Proposals;

/// <summary>
/// Turns one proposal into one decision, an allowed one into an ExecuteTool for that tool's queue,
/// and one that needs approval into an ApprovalRequested for the approval saga (the final decision
/// follows from <see cref="ApprovalOutcomeConsumer"/>). The pure evaluator decides steps 1-4 and 7;
/// <see cref="AdmissionStore"/> then enforces rates, run caps, budget and idempotency against
/// PostgreSQL. An approval_required decision on a new approval is not sent here but once the approval
/// saga has committed the approval (<see cref="ApprovalOutcomeConsumer"/> on ApprovalOpened), so the
/// agent never holds an approval id the approvals API answers 404 for. Message ids are derived from the sender and action, so a redelivered proposal repeats
/// the same messages and downstream consumers drop the repeat.
/// </summary>
public sealed class ProposalConsumer(
    PolicyStore policies,
    SuspensionCache suspensions,
    AdmissionStore admissions,
    ApprovalLedger approvals,
    ExecutionAuthorizer authorizer,
    CompensationCheck compensations,
    UndoRecords undoRecords,
    ShadowRecorder shadow,
    TimeProvider clock,
    ILogger<ProposalConsumer> logger) : IConsumer<ActionProposed>
{
    public async Task Consume(ConsumeContext<ActionProposed> context)
    {
        var sender = context.BrokerUserId();
        var proposal = context.Message;
        var rejected = context.ReceiveContext.TryGetPayload(out IngressRejection? rejection);
        var policy = policies.Current;
        var now = clock.GetUtcNow();

        Admission? admission = null;
        ExecuteTool? allowedAtOnce = null;
        PolicyDecision decision;
        if (rejected)
            decision = PolicyDecision.Deny(rejection!.ReasonCode, rejection.Detail, "envelope");
        else
        {
            var state = new EvaluationState(now, suspensions.Current);
            var evaluated = decision = PolicyEvaluator.Evaluate(proposal, sender, policy, state);
            // Only an authenticated, well-formed proposal is recorded under its action id: a spoofer
            // must not be able to occupy another agent's action id.
            if (decision.Decision != Decision.Denied && proposal.Compensates is not null &&
                await compensations.RefuseAsync(proposal, policy!, context.CancellationToken) is { } refusal)
                decision = refusal;
            if (decision.RuleId is not ("envelope" or "identity"))
            {
                // Signed before admission so the admission's transaction keeps it for the audit; sent only if admitted as new.
                if (decision.Decision == Decision.Allowed)
                    allowedAtOnce = authorizer.Authorize(proposal, policy,
                        allowance: new PolicyAllowance(decision.ReasonCode, decision.Reason, decision.RuleId, policy?.Version));
                admission = await admissions.AdmitAsync(proposal, decision, policy?.Version, now, context.CancellationToken,
                    allowedAtOnce is null ? null : PendingAuthorization.Of(allowedAtOnce, ProposalMessageId(context)));
                decision = admission.Decision;
                if (decision.Decision != Decision.Denied && admission.Kind != AdmissionKind.Duplicate &&
                    proposal.Operation is { } operationName && policy!.Tools.TryGetValue(proposal.Tool, out var catalogTool) &&
                    catalogTool.Operations.GetValueOrDefault(operationName)?.Compensation is { ReadsArguments: true })
                    await undoRecords.KeepArgumentsAsync(proposal.ActionId, proposal.Arguments, context.CancellationToken);
                // Once per action, never for a redelivery or a repeat; the candidate's verdict is worked out off this path.
                if (admission.Kind == AdmissionKind.New)
                    shadow.Observe(proposal, sender!, evaluated, policy?.Version, state, now);
            }
        }

        var actionId = rejected ? rejection!.ActionId : proposal.ActionId;
        var runId = rejected ? rejection!.RunId : proposal.RunId;
        var tool = rejected ? rejection!.Tool : proposal.Tool;
        AgentBusTelemetry.TagAction(actionId, runId);

        var subject = decision.ReasonCode is ReasonCodes.MissingField or ReasonCodes.InvalidField || rejected || actionId is null
            ? $"{sender}:body:{Convert.ToHexStringLower(SHA256.HashData(context.ReceiveContext.Body.GetBytes()))}"
            : $"{sender}:{actionId}";

        // The approval the agent waits for: its own, or, for a repeat of an action, that action's.
        var approvalId = decision.Decision == Decision.ApprovalRequired && sender is not null && admission is not null
            ? MessageIds.Approval(sender, admission.DuplicateOf ?? proposal.ActionId).ToString("D")
            : null;
        AgentBusMetrics.Decided(decision.Decision, decision.ReasonCode, decision.RuleId);

        // A new approval: the agent hears approval_required once the saga holds it (see AskForApprovalAsync).
        var opensApproval = decision is { Decision: Decision.ApprovalRequired, ReasonCode: ReasonCodes.ApprovalRequired, Approval: not null }
                            && admission is { DuplicateOf: null, FirstOutcome: null } && admission.Kind != AdmissionKind.Duplicate;
        // An action allowed at once gets no decision of its own: its outcome answers the agent (the
        // contract: an outcome implies allowed) and the command carries the decision to the audit. A
        // repeat, a duplicate or a refusal still gets one, since no command of its own follows.
        var commandAnswers = decision.Decision == Decision.Allowed && admission is { Kind: AdmissionKind.New };
        var decidedPublish = Task.CompletedTask;
        if (!opensApproval && !commandAnswers)
        {
            var decided = new ActionDecided(actionId, runId, sender ?? "", tool, decision.Decision, decision.ReasonCode,
                decision.Reason, decision.RuleId, policy?.Version, now, approvalId);
            decidedPublish = context.Publish(decided, send =>
            {
                send.MessageId = MessageIds.For(subject, nameof(ActionDecided));
                if (ProposalMessageId(context) is { } messageId && send.TryGetPayload(out RabbitMqSendContext? reply))
                    reply.BasicProperties.CorrelationId = messageId;
            }, context.CancellationToken);
            // An allowed repeat re-sends its command alongside (below); everything else waits here.
            if (decision.Decision != Decision.Allowed)
                await decidedPublish;
        }

        logger.LogInformation("Action {ActionId} of agent {AgentId} for tool {Tool}: {Decision} ({ReasonCode}, rule {RuleId}{Kind})",
            actionId, sender, tool, decision.Decision, decision.ReasonCode, decision.RuleId,
            admission is { Kind: not AdmissionKind.New } ? ", " + admission.Kind.ToString().ToLowerInvariant() : "");

        switch (admission)
        {
            case { Kind: AdmissionKind.Duplicate, FirstOutcome: { } first }:
                await OutcomeCopies.PublishAsync(context, first, proposal.ActionId, proposal.AgentId, proposal.RunId, context.CancellationToken);
                return;
            case { Kind: AdmissionKind.Duplicate }:
                return;
            case { Kind: AdmissionKind.Replay, DuplicateOf: not null }:
                // Its copy of the first outcome is sent when that outcome arrives (or was already).
                if (admission.FirstOutcome is { } copy)
                    await OutcomeCopies.RepublishAsync(context, copy, proposal.ActionId, proposal.AgentId, context.CancellationToken);
                return;
            case { Kind: AdmissionKind.Replay, FirstOutcome: { } outcome }:
                // It already ran: the agent gets the outcome again, the tool is not called again.
                await OutcomeCopies.RepublishAsync(context, outcome, proposal.ActionId, proposal.AgentId, context.CancellationToken);
                return;
        }

        if (opensApproval)
        {
            await AskForApprovalAsync(context, proposal, decision.Approval!, decision.Reason, policy?.Version, now);
            return;
        }
        if (decision.Decision != Decision.Allowed)
            return;

        // A repeat of an allowed action sends its command again, under the same id; the audit keeps the first.
        var execute = commandAnswers ? allowedAtOnce! : authorizer.Authorize(proposal, policy);
        // Mandatory: a tool with no queue bound returns the command, which fails this consume and
        // keeps the proposal for a retry, instead of the broker dropping an allowed action.
        var executePublish = context.Publish(execute, send =>
        {
            send.MessageId = MessageIds.ExecuteTool(proposal.AgentId, proposal.ActionId);
            send.Mandatory = true;
        }, context.CancellationToken);
        // The command's confirm (and a repeat's decision's) must arrive before the proposal is acknowledged:
        // a redelivery re-sends either under the same id, and neither needs the other first.
        await Task.WhenAll(decidedPublish, executePublish);
    }

    static string? ProposalMessageId(ConsumeContext context) =>
        context.TryGetPayload(out RabbitMqBasicConsumeContext? received) && received.Properties.IsMessageIdPresent()
            ? received.Properties.MessageId
            : null;

    /// <summary>
    /// Records what is asked (once), with the approval_required decision the agent is owed, then asks
    /// the approval saga; the decision goes out when the saga has opened the approval. A re-sent
    /// proposal whose approval has already ended gets both decisions again instead.
    /// </summary>
    async Task AskForApprovalAsync(ConsumeContext context, ActionProposed proposal, ApprovalRequirement requirement, string reason,
        string? policyVersion, DateTimeOffset now)
    {
        var request = ApprovalMessages.Request(proposal, requirement, policyVersion);
        var approval = await approvals.RecordAsync(request, reason, now, ProposalMessageId(context), context.CancellationToken);
        if (approval.FinalDecision is { } final)
        {
            await ApprovalMessages.PublishRequiredAsync(context, approval, approval.DecisionReason ?? reason,
                approval.DecidedAt is { } decidedAt ? new DateTimeOffset(DateTime.SpecifyKind(decidedAt, DateTimeKind.Utc)) : now,
                approval.ProposalMessageId ?? ProposalMessageId(context), context.CancellationToken);
            await ApprovalMessages.PublishFinalAsync(context, approval.ActionId, approval.RunId, approval.AgentId, approval.Tool,
                final == "allowed" ? Decision.Allowed : Decision.Denied, approval.ReasonCode!, approval.Reason!, approval.RuleId,
                policyVersion, new DateTimeOffset(DateTime.SpecifyKind(approval.UpdatedAt, DateTimeKind.Utc)), approval.ApprovalId, context.CancellationToken);
            return;
        }
        await ApprovalMessages.PublishRequestAsync(context, request, context.CancellationToken);
        logger.LogInformation("Action {ActionId} of agent {AgentId} waits for approval {ApprovalId}: {Quorum} of group {Group} until {ExpiresAt:O}",
            proposal.ActionId, proposal.AgentId, request.ApprovalId, request.Quorum, request.ApproverGroup, request.ExpiresAt);
    }
}
