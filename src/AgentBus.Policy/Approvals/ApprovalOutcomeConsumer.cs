using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.Policy.Engine;
using AgentBus.Policy.Proposals;
using AgentBus.Policy.State;
using AgentBus.ServiceDefaults.Json;
using AgentBus.ServiceDefaults.Telemetry;
using Dapper;
using MassTransit;

namespace AgentBus.Policy.Approvals;

/// <summary>
/// What policy does with the approval saga's outcomes. A grant goes back through policy first: the
/// proposal is evaluated again against the policy and suspensions in force, then the kill switch,
/// rates, run time and budget are re-checked (<see cref="AdmissionStore.ReadmitAsync"/>); only then is
/// the grant consumed (single use), and the one ExecuteTool is signed from the consumed arguments,
/// after their hash is checked against what the agent proposed. Every other ending (denied, expired,
/// cancelled, refused) releases the budget reservation and sends the agent its final decision with a
/// reason. Each outcome is handled under the approval's row lock in policy_approvals, and its messages
/// are published only after that transaction committed, with derived ids (docs/architecture.md,
/// "Delivery"): nothing announces state that may not exist, and a redelivered outcome finds the state
/// already moved and publishes the same messages again, which consumers drop as repeats.
/// Outcomes for approvals policy never asked for, or that do not bind its action, are ignored.
/// </summary>
public sealed class ApprovalOutcomeConsumer(
    ApprovalLedger ledger,
    PolicyStore policies,
    SuspensionCache suspensions,
    AdmissionStore admissions,
    CostLedger costs,
    ExecutionAuthorizer authorizer,
    TimeProvider clock,
    ILogger<ApprovalOutcomeConsumer> logger) :
    IConsumer<ApprovalOpened>,
    IConsumer<ApprovalGranted>,
    IConsumer<ApprovalConsumed>,
    IConsumer<ApprovalConsumptionRefused>,
    IConsumer<ApprovalDenied>,
    IConsumer<ApprovalExpired>,
    IConsumer<ApprovalCancelled>
{
    /// <summary>
    /// The saga holds the approval: now the agent hears approval_required, as evaluated when its proposal
    /// arrived. Sent whatever happened since (a fast grant is still preceded by it in the run's story);
    /// a repeat has the same id.
    /// </summary>
    public async Task Consume(ConsumeContext<ApprovalOpened> context)
    {
        var opened = context.Message;
        var approval = await ledger.FindAsync(opened.ApprovalId, context.CancellationToken);
        if (Ours(approval, opened.ApprovalId, opened.ActionId, opened.RunId, opened.AgentId, opened.Tool, nameof(ApprovalOpened)) is not { } ours
            || ours.DecidedAt is not { } decidedAt)
            return;
        await ApprovalMessages.PublishRequiredAsync(context, ours, ours.DecisionReason ?? "", new DateTimeOffset(DateTime.SpecifyKind(decidedAt, DateTimeKind.Utc)),
            ours.ProposalMessageId, context.CancellationToken);
        logger.LogInformation("Approval {ApprovalId} opened: agent {AgentId} told action {ActionId} needs approval", ours.ApprovalId, ours.AgentId, ours.ActionId);
    }

    public async Task Consume(ConsumeContext<ApprovalGranted> context)
    {
        var granted = context.Message;
        var ct = context.CancellationToken;
        await using var session = await ledger.OpenAsync(granted.ApprovalId, ct);
        if (Ours(session.Approval, granted.ApprovalId, granted.ActionId, granted.RunId, granted.AgentId, granted.Tool, nameof(ApprovalGranted)) is not { } approval)
            return;

        var now = clock.GetUtcNow();
        if (granted.ArgumentsHash != approval.ArgumentsHash)
        {
            logger.LogError("Approval {ApprovalId} was granted for arguments {Granted}, but action {ActionId} proposed {Proposed}; refused",
                approval.ApprovalId, granted.ArgumentsHash, approval.ActionId, approval.ArgumentsHash);
            if (PolicyApprovalStatus.IsOpen(approval.Status))
                await EndAsync(context, session, approval, PolicyApprovalStatus.Refused, ReasonCodes.ApprovalRefused,
                    "The grant is for other arguments than the ones proposed; nothing runs.", approval.RuleId, granted.Approvers, now);
            return;
        }

        switch (approval.Status)
        {
            case PolicyApprovalStatus.Pending:
                break;
            case PolicyApprovalStatus.Consuming:
                // Handled before; the request may not have left: send the same consumption again.
                await session.CommitAsync(ct);
                await PublishConsumeAsync(context, approval, now);
                return;
            default:
                await RepeatEndingAsync(context, session, approval);
                return;
        }

        var approvers = string.Join(", ", granted.Approvers);
        if (await RecheckAsync(session, approval, granted, now, ct) is { } refusal)
        {
            logger.LogInformation("Approval {ApprovalId} for action {ActionId} was granted by {Approvers}, but policy refuses it now: {ReasonCode}",
                approval.ApprovalId, approval.ActionId, approvers, refusal.ReasonCode);
            await EndAsync(context, session, approval, PolicyApprovalStatus.Refused, refusal.ReasonCode,
                $"Approved by {approvers}, but policy refuses it now: {refusal.Reason}", refusal.RuleId ?? approval.RuleId, granted.Approvers, now);
            return;
        }

        await session.MoveAsync(PolicyApprovalStatus.Consuming, ApprovalMessages.ConsumptionId(approval.ApprovalId), granted.Approvers, now, ct);
        await session.CommitAsync(ct);
        await PublishConsumeAsync(context, approval, now);
        logger.LogInformation("Approval {ApprovalId} for action {ActionId} granted by {Approvers} and re-checked; consuming it",
            approval.ApprovalId, approval.ActionId, approvers);
    }

    public async Task Consume(ConsumeContext<ApprovalConsumed> context)
    {
        var consumed = context.Message;
        var ct = context.CancellationToken;
        await using var session = await ledger.OpenAsync(consumed.ApprovalId, ct);
        if (Ours(session.Approval, consumed.ApprovalId, consumed.ActionId, consumed.RunId, consumed.AgentId, consumed.Tool, nameof(ApprovalConsumed)) is not { } approval)
            return;
        if (approval.Status == PolicyApprovalStatus.Authorized && consumed.ConsumptionId == approval.ConsumptionId)
        {
            // Authorized before, and its messages may not have left: the same decision and command again.
            var waiting = await session.WaitingDuplicatesAsync(ct);
            await session.CommitAsync(ct);
            await PublishAuthorizedAsync(context, approval, Authorize(approval, consumed.Arguments), approval.Reason ?? "", waiting, clock.GetUtcNow());
            return;
        }
        if (approval.Status != PolicyApprovalStatus.Consuming || consumed.ConsumptionId != approval.ConsumptionId)
        {
            if (approval.Status != PolicyApprovalStatus.Authorized)
                logger.LogWarning("Approval {ApprovalId}: consumption {ConsumptionId} is not the one policy asked for (status {Status}); ignored",
                    approval.ApprovalId, consumed.ConsumptionId, approval.Status);
            return;
        }

        var now = clock.GetUtcNow();
        var approvers = consumed.Approvers.Count > 0 ? consumed.Approvers : approval.Approvers;
        var hash = CanonicalJson.Hash(consumed.Arguments);
        if (hash != consumed.ArgumentsHash || hash != approval.ArgumentsHash)
        {
            logger.LogError("Approval {ApprovalId}: the arguments handed over with the grant hash to {Hash}, not {Proposed} as proposed for action {ActionId}; nothing runs",
                approval.ApprovalId, hash, approval.ArgumentsHash, approval.ActionId);
            await EndAsync(context, session, approval, PolicyApprovalStatus.Refused, ReasonCodes.ApprovalRefused,
                "The arguments handed over with the grant are not the ones the agent proposed and people approved; nothing runs.",
                approval.RuleId, approvers, now);
            return;
        }

        var reason = $"Approved by {string.Join(", ", approvers)} under rule '{approval.RuleId}'; policy re-checked the kill switch, limits and budget.";
        await session.FinishAsync(PolicyApprovalStatus.Authorized, Decision.Allowed, ReasonCodes.ApprovalGranted, reason, approvers, now, ct);
        var duplicates = await session.WaitingDuplicatesAsync(ct);
        var execute = Authorize(approval, consumed.Arguments);
        // Kept for the audit in the transaction that authorizes it (migration 0780).
        await PendingAuthorization.Of(execute, correlationId: null).KeepAsync(session.Connection, session.Transaction, approval.ActionId, now, ct);
        await session.CommitAsync(ct);
        await PublishAuthorizedAsync(context, approval, execute, reason, duplicates, now);
        logger.LogInformation("Approval {ApprovalId} used: action {ActionId} authorized for tool {Tool}", approval.ApprovalId, approval.ActionId, approval.Tool);
    }

    /// <summary>The final allowed decision, then the one signed ExecuteTool, both under ids derived from the action.</summary>
    ExecuteTool Authorize(PolicyApproval approval, JsonElement arguments) =>
        authorizer.Authorize(approval.ToProposal(arguments), policies.Current, approval.ApprovalId.ToString("D"));

    async Task PublishAuthorizedAsync(ConsumeContext context, PolicyApproval approval, ExecuteTool execute, string reason,
        IReadOnlyList<(string ActionId, string AgentId, string RunId)> duplicates, DateTimeOffset now)
    {
        // The decision first: it reaches the agent's queue before the executor can even start.
        await TellAsync(context, approval, duplicates, Decision.Allowed, ReasonCodes.ApprovalGranted, reason, approval.RuleId, now);
        // Mandatory: a tool with no queue bound returns the command; this fails and is retried, nothing is lost.
        await context.Publish(execute, send =>
        {
            send.MessageId = MessageIds.ExecuteTool(approval.AgentId, approval.ActionId);
            send.Mandatory = true;
        }, context.CancellationToken);
    }

    public async Task Consume(ConsumeContext<ApprovalConsumptionRefused> context)
    {
        var refused = context.Message;
        await using var session = await ledger.OpenAsync(refused.ApprovalId, context.CancellationToken);
        if (Ours(session.Approval, refused.ApprovalId, refused.ActionId, refused.RunId, refused.AgentId, refused.Tool, nameof(ApprovalConsumptionRefused)) is not { } approval)
            return;
        // Only the answer to policy's own consumption counts: a refusal of someone else's changes nothing.
        if (refused.ConsumptionId != approval.ConsumptionId)
            return;
        if (approval.Status != PolicyApprovalStatus.Consuming)
        {
            await RepeatEndingAsync(context, session, approval);
            return;
        }
        await EndAsync(context, session, approval, PolicyApprovalStatus.Refused, ReasonCodes.ApprovalRefused,
            $"The grant could not be used ({refused.ReasonCode}): {refused.Reason}", approval.RuleId, null, clock.GetUtcNow());
    }

    public Task Consume(ConsumeContext<ApprovalDenied> context)
    {
        var denied = context.Message;
        var reason = $"Denied by {denied.DeniedBy}" + (string.IsNullOrWhiteSpace(denied.Comment) ? "." : $": {denied.Comment}");
        return EndOpenAsync(context, denied.ApprovalId, denied.ActionId, denied.RunId, denied.AgentId, denied.Tool, nameof(ApprovalDenied),
            PolicyApprovalStatus.Denied, ReasonCodes.ApprovalDenied, reason);
    }

    public Task Consume(ConsumeContext<ApprovalExpired> context)
    {
        var expired = context.Message;
        var reason = $"Nobody approved in time: {expired.Approvers.Count} of {expired.Quorum} approval(s) by {expired.ExpiresAt:u}. Expiry never approves.";
        return EndOpenAsync(context, expired.ApprovalId, expired.ActionId, expired.RunId, expired.AgentId, expired.Tool, nameof(ApprovalExpired),
            PolicyApprovalStatus.Expired, ReasonCodes.ApprovalExpired, reason);
    }

    public Task Consume(ConsumeContext<ApprovalCancelled> context)
    {
        var cancelled = context.Message;
        return EndOpenAsync(context, cancelled.ApprovalId, cancelled.ActionId, cancelled.RunId, cancelled.AgentId, cancelled.Tool, nameof(ApprovalCancelled),
            PolicyApprovalStatus.Cancelled, ReasonCodes.ApprovalCancelled, $"The approval was cancelled: {cancelled.Reason}");
    }

    async Task EndOpenAsync(ConsumeContext context, Guid approvalId, string actionId, string runId, string agentId, string tool, string what,
        string status, string reasonCode, string reason)
    {
        await using var session = await ledger.OpenAsync(approvalId, context.CancellationToken);
        if (Ours(session.Approval, approvalId, actionId, runId, agentId, tool, what) is not { } approval)
            return;
        if (!PolicyApprovalStatus.IsOpen(approval.Status))
        {
            await RepeatEndingAsync(context, session, approval);
            return;
        }
        await EndAsync(context, session, approval, status, reasonCode, reason, approval.RuleId, null, clock.GetUtcNow());
    }

    /// <summary>
    /// The re-check of a grant: the whole evaluation against the policy and suspensions in force (the
    /// grant, schema, constraints and destinations may have changed while people decided; a policy that
    /// now asks for a different approval than the one granted refuses it), then the stateful steps.
    /// </summary>
    async Task<PolicyDecision?> RecheckAsync(ApprovalSession session, PolicyApproval approval, ApprovalGranted granted, DateTimeOffset now,
        CancellationToken ct)
    {
        var proposal = approval.ToProposal();
        var evaluated = PolicyEvaluator.Evaluate(proposal, proposal.AgentId, policies.Current, new EvaluationState(now, suspensions.Current));
        if (evaluated.Decision == Decision.Denied)
            return evaluated;
        if (evaluated.Approval is { } needed
            && (needed.RuleId != approval.RuleId || needed.Group != approval.ApproverGroup || needed.Approvers > granted.Approvers.Count))
            return PolicyDecision.Deny(ReasonCodes.ApprovalRefused,
                $"the policy in force asks for {needed.Approvers} approver(s) from '{needed.Group}' (rule '{needed.RuleId}'), which this grant " +
                $"({granted.Approvers.Count} from '{approval.ApproverGroup}', rule '{approval.RuleId}') does not satisfy; propose the action again.",
                needed.RuleId);
        return await admissions.ReadmitAsync(session.Connection, session.Transaction, proposal, evaluated.Terms!, now, ct);
    }

    static Task PublishConsumeAsync(ConsumeContext context, PolicyApproval approval, DateTimeOffset now)
    {
        var consumptionId = ApprovalMessages.ConsumptionId(approval.ApprovalId);
        return context.Publish(new ConsumeApproval(approval.ApprovalId, consumptionId, approval.ActionId, approval.RunId, approval.AgentId,
            approval.Tool, approval.ArgumentsHash, now), send => send.MessageId = consumptionId, context.CancellationToken);
    }

    /// <summary>
    /// An ending in which nothing runs: the reservation is released, the action (and proposals that
    /// repeat it) is recorded as denied, so a re-sent proposal gets this answer and a retry under a new
    /// action id is evaluated afresh, and the agent gets its final decision.
    /// </summary>
    async Task EndAsync(ConsumeContext context, ApprovalSession session, PolicyApproval approval, string status, string reasonCode,
        string reason, string? ruleId, IReadOnlyList<string>? approvers, DateTimeOffset now)
    {
        var ct = context.CancellationToken;
        await session.FinishAsync(status, Decision.Denied, reasonCode, reason, approvers, now, ct);
        // Rows in the order the outcome consumer takes them (the action, then its ledger entry and budgets).
        await session.Connection.ExecuteAsync(new CommandDefinition("""
            UPDATE policy_actions SET decision = 'denied', reason_code = @ReasonCode, reason = @Reason, rule_id = COALESCE(@RuleId, rule_id)
            WHERE action_id = @ActionId OR (duplicate_of = @ActionId AND outcome IS NULL);
            DELETE FROM policy_idempotency WHERE action_id = @ActionId;
            """, new { ReasonCode = reasonCode, Reason = reason, RuleId = ruleId, approval.ActionId }, session.Transaction, cancellationToken: ct));
        await costs.ReleaseAsync(session.Connection, session.Transaction, approval.ActionId, ct);
        var duplicates = await session.WaitingDuplicatesAsync(ct);
        await session.CommitAsync(ct);
        await TellAsync(context, approval, duplicates, Decision.Denied, reasonCode, reason, ruleId, now);
        logger.LogInformation("Approval {ApprovalId} for action {ActionId}: {Status} ({ReasonCode})", approval.ApprovalId, approval.ActionId, status, reasonCode);
    }

    /// <summary>
    /// An outcome for an approval that ended in a denial before: its decision was committed, but the
    /// publish after the commit may not have happened, so it is told again under the same id.
    /// </summary>
    async Task RepeatEndingAsync(ConsumeContext context, ApprovalSession session, PolicyApproval approval)
    {
        if (approval.FinalDecision != DecisionNames.Denied || approval.ReasonCode is null)
            return;
        var waiting = await session.WaitingDuplicatesAsync(context.CancellationToken);
        await session.CommitAsync(context.CancellationToken);
        await TellAsync(context, approval, waiting, Decision.Denied, approval.ReasonCode, approval.Reason ?? "", approval.RuleId, clock.GetUtcNow());
    }

    /// <summary>The final decision, to the agent and to every proposal still waiting as a repeat of this action.</summary>
    async Task TellAsync(ConsumeContext context, PolicyApproval approval, IReadOnlyList<(string ActionId, string AgentId, string RunId)> duplicates,
        Decision decision, string reasonCode, string reason, string? ruleId, DateTimeOffset now)
    {
        var version = policies.Current?.Version;
        await ApprovalMessages.PublishFinalAsync(context, approval.ActionId, approval.RunId, approval.AgentId, approval.Tool, decision,
            reasonCode, reason, ruleId, version, now, approval.ApprovalId, context.CancellationToken);
        foreach (var (actionId, agentId, runId) in duplicates)
            await ApprovalMessages.PublishFinalAsync(context, actionId, runId, agentId, approval.Tool, decision, reasonCode,
                $"{reason} (This proposal repeats action {approval.ActionId}.)", ruleId, version, now, approval.ApprovalId, context.CancellationToken);
    }

    PolicyApproval? Ours(PolicyApproval? approval, Guid approvalId, string actionId, string runId, string agentId, string tool, string what)
    {
        AgentBusTelemetry.TagAction(actionId, runId);
        if (approval is null)
        {
            logger.LogWarning("{What} for approval {ApprovalId} (action {ActionId}): policy did not ask for this approval; ignored", what, approvalId, actionId);
            return null;
        }
        if (!approval.Binds(actionId, runId, agentId, tool))
        {
            logger.LogError("{What} for approval {ApprovalId} names action {ActionId} of agent {AgentId} on {Tool}, not the action policy asked about; ignored",
                what, approvalId, actionId, agentId, tool);
            return null;
        }
        return approval;
    }
}

public sealed class ApprovalOutcomeConsumerDefinition : ConsumerDefinition<ApprovalOutcomeConsumer>
{
    public ApprovalOutcomeConsumerDefinition()
    {
        EndpointName = AgentBus.Contracts.WireNames.PolicyApprovalsQueue;
        ConcurrentMessageLimit = 16;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpoint, IConsumerConfigurator<ApprovalOutcomeConsumer> consumer,
        IRegistrationContext context)
    {
        // Bound to the approval outcome exchanges by `agentbus broker apply`.
        endpoint.ConfigureConsumeTopology = false;
        if (endpoint is IRabbitMqReceiveEndpointConfigurator rabbit)
            rabbit.PrefetchCount = 32;
    }
}
