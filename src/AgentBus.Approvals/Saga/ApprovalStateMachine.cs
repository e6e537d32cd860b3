using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.ServiceDefaults.Json;
using AgentBus.ServiceDefaults.Messaging;
using AgentBus.ServiceDefaults.Telemetry;
using MassTransit;
using Microsoft.Extensions.Options;

namespace AgentBus.Approvals.Saga;

/// <summary>
/// One approval from request to use: each state lists the events it acts on and the ones it ignores,
/// and a transition happens only where a state's handler makes it. Every event is handled with the saga's row locked (see
/// Persistence), and every decision is taken by <see cref="ApprovalRules"/> with this machine's clock,
/// so concurrent votes, a vote racing the expiry, and a replayed grant are decided in one place.
/// Outcome events carry ids derived from the approval: a redelivered message that finds the outcome
/// already decided publishes the same event again, which consumers drop as a repeat, so an outcome
/// lost between the commit and the publish is sent when the message is retried.
/// </summary>
public sealed class ApprovalStateMachine : MassTransitStateMachine<ApprovalState>
{
    readonly TimeProvider _clock;
    readonly ApprovalsOptions _options;
    readonly ILogger<ApprovalStateMachine> _logger;

    public ApprovalStateMachine(TimeProvider clock, IOptions<ApprovalsOptions> options, ILogger<ApprovalStateMachine> logger)
    {
        _clock = clock;
        _options = options.Value;
        _logger = logger;

        InstanceState(x => x.CurrentState);

        Event(() => Requested, e =>
        {
            e.CorrelateById(c => c.Message.ApprovalId);
            e.InsertOnInitial = true;
            e.SetSagaFactory(c => new ApprovalState { CorrelationId = c.Message.ApprovalId });
        });
        Event(() => VoteCast, e =>
        {
            e.CorrelateById(c => c.Message.ApprovalId);
            e.OnMissingInstance(m => m.ExecuteAsync(c => RespondIfAsked(c, new ApprovalVoteResult(c.Message.ApprovalId, c.Message.VoteId,
                ApprovalVoteOutcome.NotFound, "unknown", ApprovalReasonCodes.UnknownApproval, "No such approval.", [], 0))));
        });
        Event(() => Consume, e =>
        {
            e.CorrelateById(c => c.Message.ApprovalId);
            e.OnMissingInstance(m => m.ExecuteAsync(c => c.Publish(Refusal(c.Message, ApprovalReasonCodes.UnknownApproval, "No such approval."),
                send => send.MessageId = MessageIds.For(ConsumptionSubject(c.Message), nameof(ApprovalConsumptionRefused)))));
        });
        Event(() => Expire, e => { e.CorrelateById(c => c.Message.ApprovalId); e.OnMissingInstance(m => m.Discard()); });
        Event(() => Escalate, e => { e.CorrelateById(c => c.Message.ApprovalId); e.OnMissingInstance(m => m.Discard()); });
        Event(() => Cancel, e => { e.CorrelateById(c => c.Message.ApprovalId); e.OnMissingInstance(m => m.Discard()); });

        Initially(When(Requested).ThenAsync(StartAsync));

        // Open: votes count, the sweeper's expiry and escalation act, a grant cannot be used yet.
        During(Pending, Escalated,
            When(Requested).ThenAsync(RepeatedRequestAsync),
            When(VoteCast).ThenAsync(VoteAsync),
            When(Expire).ThenAsync(ExpireAsync),
            When(Cancel).ThenAsync(c => CancelWithAsync(c, c.Message.Reason, c.Message.CancelledBy)),
            When(Consume).ThenAsync(RefuseConsumptionAsync));
        During(Pending,
            When(Escalate).ThenAsync(EscalateAsync));
        During(Escalated,
            When(Escalate).ThenAsync(PublishEscalatedAsync));

        // Granted: the one use, or a cancellation by a suspension before it.
        During(Granted,
            When(VoteCast).ThenAsync(c => AnswerLateVoteAsync(c, PublishGrantedAsync)),
            When(Consume).ThenAsync(ConsumeAsync),
            When(Cancel).ThenAsync(c => CancelWithAsync(c, c.Message.Reason, c.Message.CancelledBy)),
            Ignore(Requested), Ignore(Expire), Ignore(Escalate));
        During(Consumed,
            When(VoteCast).ThenAsync(c => AnswerLateVoteAsync(c, PublishGrantedAsync)),
            When(Consume).ThenAsync(ConsumeAsync),
            Ignore(Requested), Ignore(Expire), Ignore(Escalate), Ignore(Cancel));

        // Ended without a grant: answers only, and the same outcome again for a repeated trigger.
        During(Denied,
            When(VoteCast).ThenAsync(c => AnswerLateVoteAsync(c, PublishDeniedAsync)),
            When(Consume).ThenAsync(RefuseConsumptionAsync),
            Ignore(Requested), Ignore(Expire), Ignore(Escalate), Ignore(Cancel));
        During(Expired,
            When(VoteCast).ThenAsync(c => AnswerLateVoteAsync(c, null)),
            When(Expire).ThenAsync(PublishExpiredAsync),
            When(Consume).ThenAsync(RefuseConsumptionAsync),
            Ignore(Requested), Ignore(Escalate), Ignore(Cancel));
        During(Cancelled,
            When(VoteCast).ThenAsync(c => AnswerLateVoteAsync(c, null)),
            When(Cancel).ThenAsync(PublishCancelledAsync),
            When(Consume).ThenAsync(RefuseConsumptionAsync),
            Ignore(Requested), Ignore(Expire), Ignore(Escalate));
    }

    public State Pending { get; private set; } = null!;
    public State Escalated { get; private set; } = null!;
    public State Granted { get; private set; } = null!;
    public State Denied { get; private set; } = null!;
    public State Expired { get; private set; } = null!;
    public State Cancelled { get; private set; } = null!;
    public State Consumed { get; private set; } = null!;

    public Event<ApprovalRequested> Requested { get; private set; } = null!;
    public Event<ApprovalVoteCast> VoteCast { get; private set; } = null!;
    public Event<ExpireApproval> Expire { get; private set; } = null!;
    public Event<EscalateApproval> Escalate { get; private set; } = null!;
    public Event<CancelApproval> Cancel { get; private set; } = null!;
    public Event<ConsumeApproval> Consume { get; private set; } = null!;

    async Task StartAsync(BehaviorContext<ApprovalState, ApprovalRequested> context)
    {
        var (saga, request) = (context.Saga, context.Message);
        saga.ActionId = request.ActionId;
        saga.RunId = request.RunId;
        saga.AgentId = request.AgentId;
        saga.AgentTeam = request.AgentTeam;
        saga.Tool = request.Tool;
        saga.Operation = request.Operation;
        saga.ArgumentsJson = request.Arguments.ValueKind == JsonValueKind.Undefined ? "null" : request.Arguments.GetRawText();
        saga.ArgumentsHash = request.ArgumentsHash;
        saga.IdempotencyKey = request.IdempotencyKey;
        saga.CurrentJson = request.Current is { ValueKind: not JsonValueKind.Undefined } current ? current.GetRawText() : null;
        saga.RuleId = request.RuleId;
        saga.ApproverGroup = request.ApproverGroup;
        saga.Quorum = request.Quorum;
        saga.ExcludedApprovers = (request.ExcludedApprovers ?? []).Select(ApprovalRules.Normalize).Distinct().ToList();
        saga.RequestedBy = request.RequestedBy ?? "";
        saga.RequestedAt = request.RequestedAt;
        saga.ExpiresAt = request.ExpiresAt;
        saga.EscalationGroup = string.IsNullOrWhiteSpace(request.EscalationGroup) ? null : request.EscalationGroup;
        saga.EscalateAt = saga.EscalationGroup is not null && request.EscalationDelay is { } delay ? request.RequestedAt + delay : null;
        saga.PolicyVersion = request.PolicyVersion;
        saga.Intent = request.Intent;

        AgentBusTelemetry.TagAction(saga.ActionId, saga.RunId);
        if (RequestProblem(request) is { } problem)
        {
            _logger.LogError("Approval {ApprovalId} for action {ActionId} was requested with {Problem}; cancelled", saga.CorrelationId, saga.ActionId, problem);
            await CancelWithAsync(context, $"The approval request was invalid: {problem}", "approvals");
            return;
        }

        await context.TransitionToState(Pending);
        // Sent by the outbox after the commit: policy tells the agent only once the API can answer for it.
        await PublishOpenedAsync(context);
        _logger.LogInformation("Approval {ApprovalId} for action {ActionId} of agent {AgentId} on tool {Tool}: waiting for {Quorum} of group {Group} until {ExpiresAt:O}",
            saga.CorrelationId, saga.ActionId, saga.AgentId, saga.Tool, saga.Quorum, saga.ApproverGroup, saga.ExpiresAt);
    }

    static string? RequestProblem(ApprovalRequested request)
    {
        if (string.IsNullOrWhiteSpace(request.ActionId) || string.IsNullOrWhiteSpace(request.RunId) || string.IsNullOrWhiteSpace(request.AgentId)
            || string.IsNullOrWhiteSpace(request.Tool) || string.IsNullOrWhiteSpace(request.ArgumentsHash))
            return "an empty action, run, agent, tool or arguments hash";
        if (request.Arguments.ValueKind != JsonValueKind.Object)
            return "arguments that are not a JSON object";
        if (CanonicalJson.Hash(request.Arguments) != request.ArgumentsHash)
            return "arguments that do not match their hash";
        if (string.IsNullOrWhiteSpace(request.RuleId) || string.IsNullOrWhiteSpace(request.ApproverGroup))
            return "no rule or approver group";
        if (request.Quorum < 1)
            return $"a quorum of {request.Quorum}";
        if (request.ExpiresAt <= request.RequestedAt)
            return "an expiry not after the request";
        if (request.EscalationDelay is { } delay && delay <= TimeSpan.Zero)
            return "a non-positive escalation delay";
        return null;
    }

    /// <summary>A redelivered or re-sent request: while the approval is open, it is announced again (same id), in case the first was lost.</summary>
    async Task RepeatedRequestAsync(BehaviorContext<ApprovalState, ApprovalRequested> context)
    {
        var (saga, request) = (context.Saga, context.Message);
        if (request.ActionId != saga.ActionId || request.ArgumentsHash != saga.ArgumentsHash || request.AgentId != saga.AgentId)
        {
            _logger.LogWarning("Approval {ApprovalId} was requested again for a different action or arguments; the first request stands", saga.CorrelationId);
            return;
        }
        await PublishOpenedAsync(context);
    }

    static Task PublishOpenedAsync(BehaviorContext<ApprovalState> context)
    {
        var saga = context.Saga;
        return context.Publish(new ApprovalOpened(saga.CorrelationId, saga.ActionId, saga.RunId, saga.AgentId, saga.Tool, saga.RuleId,
            saga.ExpiresAt, saga.RequestedAt), Id<ApprovalOpened>(saga));
    }

    async Task VoteAsync(BehaviorContext<ApprovalState, ApprovalVoteCast> context)
    {
        var (saga, vote) = (context.Saga, context.Message);
        AgentBusTelemetry.TagAction(saga.ActionId, saga.RunId);
        var now = _clock.GetUtcNow();
        var step = ApprovalRules.Vote(saga, vote, now);
        var approver = ApprovalRules.Normalize(vote.Approver);

        if (step.Outcome == ApprovalVoteOutcome.Recorded)
        {
            var throughEscalation = saga.CurrentState == ApprovalStatus.Escalated && !vote.ApproverGroups.Contains(saga.ApproverGroup, StringComparer.Ordinal);
            var recorded = new ApprovalVote(vote.VoteId, approver, vote.Verdict, Trim(vote.Comment), now, throughEscalation);
            saga.Votes.Add(recorded);
            _logger.LogInformation("Approval {ApprovalId}: {Approver} voted {Verdict}", saga.CorrelationId, approver, vote.Verdict);
            await PublishVoteAsync(context, recorded);
        }
        else if (step.Outcome == ApprovalVoteOutcome.Repeated && saga.Votes.FirstOrDefault(v => v.Approver == approver) is { } earlier)
            await PublishVoteAsync(context, earlier);

        switch (step.MoveTo)
        {
            case ApprovalStatus.Granted:
                saga.DecidedAt = now;
                saga.DecidedBy = string.Join(", ", saga.Approvers);
                saga.ConsumableUntil = now + _options.GrantLifetime;
                await context.TransitionToState(Granted);
                Record(saga, "granted");
                await PublishGrantedAsync(context);
                break;
            case ApprovalStatus.Denied:
                saga.DecidedAt = now;
                saga.DecidedBy = approver;
                saga.DecisionReason = Trim(vote.Comment);
                await context.TransitionToState(Denied);
                Record(saga, "denied");
                await PublishDeniedAsync(context);
                break;
            case ApprovalStatus.Expired:
                await ExpireNowAsync(context, now);
                break;
        }

        await AnswerAsync(context, step);
    }

    /// <summary>
    /// A vote on a decided approval changes nothing. The same vote again (an HTTP retry, or this message
    /// redelivered after its outcome committed but perhaps before it was published) publishes the
    /// outcome again under the same id.
    /// </summary>
    async Task AnswerLateVoteAsync(BehaviorContext<ApprovalState, ApprovalVoteCast> context, Func<BehaviorContext<ApprovalState>, Task>? publishOutcome)
    {
        AgentBusTelemetry.TagAction(context.Saga.ActionId, context.Saga.RunId);
        var step = ApprovalRules.Vote(context.Saga, context.Message, _clock.GetUtcNow());
        if (step.Outcome == ApprovalVoteOutcome.Repeated && publishOutcome is not null)
            await publishOutcome(context);
        await AnswerAsync(context, step);
    }

    static Task AnswerAsync(BehaviorContext<ApprovalState, ApprovalVoteCast> context, ApprovalStep step)
    {
        var saga = context.Saga;
        return RespondIfAsked(context, new ApprovalVoteResult(saga.CorrelationId, context.Message.VoteId, step.Outcome,
            ApprovalStatus.Display(saga.CurrentState), step.ReasonCode, step.Reason, saga.Approvers, saga.Quorum));
    }

    /// <summary>The sweeper's word is a trigger, not the decision: only this machine's clock expires an approval.</summary>
    async Task ExpireAsync(BehaviorContext<ApprovalState, ExpireApproval> context)
    {
        var now = _clock.GetUtcNow();
        if (ApprovalRules.ShouldExpire(context.Saga, now))
            await ExpireNowAsync(context, now);
    }

    async Task ExpireNowAsync(BehaviorContext<ApprovalState> context, DateTimeOffset now)
    {
        var saga = context.Saga;
        saga.DecidedAt = now;
        saga.DecisionReason = $"No decision by {saga.ExpiresAt:O}.";
        await context.TransitionToState(Expired);
        Record(saga, "expired");
        _logger.LogInformation("Approval {ApprovalId} expired with {Approvals} of {Quorum} approvals", saga.CorrelationId, saga.Approvers.Count, saga.Quorum);
        await PublishExpiredAsync(context);
    }

    async Task EscalateAsync(BehaviorContext<ApprovalState, EscalateApproval> context)
    {
        var saga = context.Saga;
        var now = _clock.GetUtcNow();
        if (!ApprovalRules.ShouldEscalate(saga, now))
            return;

        saga.EscalatedAt = now;
        await context.TransitionToState(Escalated);
        _logger.LogInformation("Approval {ApprovalId} escalated: group {Group} may now approve too", saga.CorrelationId, saga.EscalationGroup);
        await PublishEscalatedAsync(context);
    }

    async Task CancelWithAsync(BehaviorContext<ApprovalState> context, string reason, string by)
    {
        var saga = context.Saga;
        saga.DecidedAt = _clock.GetUtcNow();
        saga.DecidedBy = by;
        saga.DecisionReason = reason;
        await context.TransitionToState(Cancelled);
        Record(saga, "cancelled");
        _logger.LogInformation("Approval {ApprovalId} cancelled by {By}: {Reason}", saga.CorrelationId, by, reason);
        await PublishCancelledAsync(context);
    }

    /// <summary>Granted: the first matching consumption takes the grant. Consumed: that same consumption is answered again, any other refused.</summary>
    async Task ConsumeAsync(BehaviorContext<ApprovalState, ConsumeApproval> context)
    {
        var (saga, request) = (context.Saga, context.Message);
        AgentBusTelemetry.TagAction(saga.ActionId, saga.RunId);
        var now = _clock.GetUtcNow();
        if (ApprovalRules.Consumption(saga, request, now) is not null)
        {
            await RefuseConsumptionAsync(context);
            return;
        }

        var repeated = saga.ConsumptionId == request.ConsumptionId;
        if (!repeated)
        {
            saga.ConsumptionId = request.ConsumptionId;
            saga.ConsumedAt = now;
            await context.TransitionToState(Consumed);
            _logger.LogInformation("Approval {ApprovalId} consumed by {ConsumptionId}", saga.CorrelationId, request.ConsumptionId);
        }

        await context.Publish(new ApprovalConsumed(saga.CorrelationId, request.ConsumptionId, saga.ActionId, saga.RunId, saga.AgentId, saga.Tool,
                saga.Arguments, saga.ArgumentsHash, saga.IdempotencyKey, saga.RuleId, saga.Approvers, repeated, saga.ConsumedAt!.Value),
            send => send.MessageId = MessageIds.For(ConsumptionSubject(request), nameof(ApprovalConsumed)));
    }

    async Task RefuseConsumptionAsync(BehaviorContext<ApprovalState, ConsumeApproval> context)
    {
        var (saga, request) = (context.Saga, context.Message);
        var (code, reason) = ApprovalRules.Consumption(saga, request, _clock.GetUtcNow())
                             ?? (ApprovalReasonCodes.NotGranted, "This approval cannot be used now.");
        _logger.LogWarning("Approval {ApprovalId}: consumption {ConsumptionId} refused ({Code})", saga.CorrelationId, request.ConsumptionId, code);
        await context.Publish(Refusal(request, code, reason),
            send => send.MessageId = MessageIds.For(ConsumptionSubject(request), nameof(ApprovalConsumptionRefused)));
    }

    static string ConsumptionSubject(ConsumeApproval request) => $"{request.ApprovalId:D}:{request.ConsumptionId:D}";

    /// <summary>Each counted answer, for the audit (who approved or denied, and when); a repeat has the same id.</summary>
    static Task PublishVoteAsync(BehaviorContext<ApprovalState> context, ApprovalVote vote)
    {
        var saga = context.Saga;
        var approvals = saga.Votes.TakeWhile(v => v != vote).Count(v => v.Verdict == ApprovalVerdict.Approve)
                        + (vote.Verdict == ApprovalVerdict.Approve ? 1 : 0);
        return context.Publish(new ApprovalVoteRecorded(saga.CorrelationId, saga.ActionId, saga.RunId, saga.AgentId, saga.Tool, saga.RuleId,
                vote.Approver, vote.Verdict, vote.Comment, vote.ThroughEscalation, approvals, saga.Quorum, vote.CastAt),
            send => send.MessageId = MessageIds.For($"{saga.CorrelationId:D}:{vote.Approver}", nameof(ApprovalVoteRecorded)));
    }

    Task PublishGrantedAsync(BehaviorContext<ApprovalState> context)
    {
        var saga = context.Saga;
        return context.Publish(new ApprovalGranted(saga.CorrelationId, saga.ActionId, saga.RunId, saga.AgentId, saga.Tool, saga.ArgumentsHash,
            saga.RuleId, saga.Approvers, saga.DecidedAt!.Value, saga.ConsumableUntil!.Value), Id<ApprovalGranted>(saga));
    }

    Task PublishDeniedAsync(BehaviorContext<ApprovalState> context)
    {
        var saga = context.Saga;
        return context.Publish(new ApprovalDenied(saga.CorrelationId, saga.ActionId, saga.RunId, saga.AgentId, saga.Tool, saga.RuleId,
            saga.DecidedBy ?? "", saga.DecisionReason, saga.DecidedAt!.Value), Id<ApprovalDenied>(saga));
    }

    Task PublishExpiredAsync(BehaviorContext<ApprovalState> context)
    {
        var saga = context.Saga;
        return context.Publish(new ApprovalExpired(saga.CorrelationId, saga.ActionId, saga.RunId, saga.AgentId, saga.Tool, saga.RuleId,
            saga.Approvers, saga.Quorum, saga.ExpiresAt, saga.DecidedAt!.Value), Id<ApprovalExpired>(saga));
    }

    Task PublishCancelledAsync(BehaviorContext<ApprovalState> context)
    {
        var saga = context.Saga;
        return context.Publish(new ApprovalCancelled(saga.CorrelationId, saga.ActionId, saga.RunId, saga.AgentId, saga.Tool, saga.RuleId,
            saga.DecisionReason ?? "", saga.DecidedBy ?? "", saga.DecidedAt!.Value), Id<ApprovalCancelled>(saga));
    }

    static Task PublishEscalatedAsync(BehaviorContext<ApprovalState> context)
    {
        var saga = context.Saga;
        return context.Publish(new ApprovalEscalated(saga.CorrelationId, saga.ActionId, saga.RunId, saga.AgentId, saga.Tool, saga.RuleId,
            saga.EscalationGroup!, saga.EscalatedAt!.Value), Id<ApprovalEscalated>(saga));
    }

    static void Record(ApprovalState saga, string outcome) =>
        AgentBusMetrics.ApprovalResolved(saga.Tool, saga.RuleId, outcome, (saga.DecidedAt ?? saga.RequestedAt) - saga.RequestedAt);

    static Action<PublishContext<T>> Id<T>(ApprovalState saga)
        where T : class =>
        send => send.MessageId = MessageIds.For(saga.CorrelationId.ToString("D"), typeof(T).Name);

    ApprovalConsumptionRefused Refusal(ConsumeApproval request, string code, string reason) =>
        new(request.ApprovalId, request.ConsumptionId, request.ActionId, request.RunId, request.AgentId, request.Tool, code, reason, _clock.GetUtcNow());

    /// <summary>Votes come as requests from the HTTP side; a vote sent without a reply address gets no answer.</summary>
    static Task RespondIfAsked<T>(ConsumeContext<T> context, ApprovalVoteResult result)
        where T : class =>
        context.ResponseAddress is null ? Task.CompletedTask : context.RespondAsync(result);

    static string? Trim(string? comment) => string.IsNullOrWhiteSpace(comment) ? null : comment.Trim();
}
