using AgentBus.Contracts;

namespace AgentBus.Approvals.Saga;

/// <summary>What a vote, a sweep or a consumption does to an approval: the state it moves to (if any) and the answer.</summary>
public sealed record ApprovalStep(ApprovalVoteOutcome Outcome, string ReasonCode, string Reason, string? MoveTo = null);

/// <summary>
/// The approval rules, pure: the state machine calls them under the saga's row lock with the saga's
/// clock, so every race (two approvers at once, a grant against the expiry) is decided here, once.
/// </summary>
public static class ApprovalRules
{
    /// <summary>
    /// The form in which approver names and agent ids are compared: fullwidth forms (U+FF01–U+FF5E,
    /// U+3000) folded to ASCII, trimmed, lower case, so `Support-Bot `, `support-bot` and `ｓｕｐｐｏｒｔ-ｂｏｔ`
    /// are one identity. Done by hand rather than with string.Normalize, which does nothing under the
    /// invariant globalization these services run with. Names and ids allow ASCII only (a-z 0-9 . _ @ -),
    /// so any other look-alike letter is refused where a name is created, never compared.
    /// </summary>
    public static string Normalize(string name)
    {
        var folded = string.Create(name.Length, name, static (span, source) =>
        {
            for (var i = 0; i < source.Length; i++)
                span[i] = source[i] switch
                {
                    >= '\uFF01' and <= '\uFF5E' and var c => (char)(c - 0xFEE0),
                    '\u3000' => ' ',
                    var c => c,
                };
        });
        return folded.Trim().ToLowerInvariant();
    }

    public static ApprovalStep Vote(ApprovalState approval, ApprovalVoteCast vote, DateTimeOffset now)
    {
        var approver = Normalize(vote.Approver);
        var previous = approval.Votes.FirstOrDefault(v => v.Approver == approver);

        switch (approval.CurrentState)
        {
            case ApprovalStatus.Granted or ApprovalStatus.Consumed:
                return previous?.Verdict == vote.Verdict
                    ? new(ApprovalVoteOutcome.Repeated, ApprovalReasonCodes.Granted, $"Already granted; your approval was recorded at {previous.CastAt:O}.")
                    : new(ApprovalVoteOutcome.Conflict, ApprovalReasonCodes.AlreadyDecided, "This approval was already granted.");
            case ApprovalStatus.Denied:
                return previous?.Verdict == vote.Verdict
                    ? new(ApprovalVoteOutcome.Repeated, ApprovalReasonCodes.Denied, $"Already denied; your denial was recorded at {previous.CastAt:O}.")
                    : new(ApprovalVoteOutcome.Conflict, ApprovalReasonCodes.AlreadyDecided, $"This approval was already denied by {approval.DecidedBy}.");
            case ApprovalStatus.Expired:
                return new(ApprovalVoteOutcome.Conflict, ApprovalReasonCodes.Expired, $"This approval expired at {approval.ExpiresAt:O}.");
            case ApprovalStatus.Cancelled:
                return new(ApprovalVoteOutcome.Conflict, ApprovalReasonCodes.Cancelled, $"This approval was cancelled: {approval.DecisionReason}");
            case ApprovalStatus.Pending or ApprovalStatus.Escalated:
                break;
            default:
                return new(ApprovalVoteOutcome.NotFound, ApprovalReasonCodes.UnknownApproval, "No such approval.");
        }

        if (previous is not null)
            return previous.Verdict == vote.Verdict
                ? new(ApprovalVoteOutcome.Repeated, ApprovalReasonCodes.VoteRecorded, $"Your {Word(vote.Verdict)} was already recorded at {previous.CastAt:O}.")
                : new(ApprovalVoteOutcome.Conflict, ApprovalReasonCodes.AlreadyVoted, $"You already voted ({Word(previous.Verdict)}); a vote cannot be changed.");

        if (Eligibility(approval, approver, vote.ApproverGroups) is { } forbidden)
            return forbidden;

        // Expiry never approves: a vote handled at or after the deadline expires the approval instead.
        if (now >= approval.ExpiresAt)
            return new(ApprovalVoteOutcome.Conflict, ApprovalReasonCodes.Expired, $"This approval expired at {approval.ExpiresAt:O}.", ApprovalStatus.Expired);

        if (vote.Verdict == ApprovalVerdict.Deny)
            return new(ApprovalVoteOutcome.Recorded, ApprovalReasonCodes.Denied, $"Denied by {approver}.", ApprovalStatus.Denied);

        var approvals = approval.Votes.Count(v => v.Verdict == ApprovalVerdict.Approve) + 1;
        return approvals >= approval.Quorum
            ? new(ApprovalVoteOutcome.Recorded, ApprovalReasonCodes.Granted, $"Granted: {approvals} of {approval.Quorum} approvals.", ApprovalStatus.Granted)
            : new(ApprovalVoteOutcome.Recorded, ApprovalReasonCodes.VoteRecorded, $"Approval recorded: {approvals} of {approval.Quorum}; waiting for more.");
    }

    /// <summary>Null when this person may vote on this approval now; otherwise why not (403).</summary>
    public static ApprovalStep? Eligibility(ApprovalState approval, string approver, IReadOnlyCollection<string> groups)
    {
        approver = Normalize(approver);
        var inGroup = groups.Contains(approval.ApproverGroup, StringComparer.Ordinal)
                      || (approval.CurrentState == ApprovalStatus.Escalated && approval.EscalationGroup is { } escalation
                          && groups.Contains(escalation, StringComparer.Ordinal));
        if (!inGroup)
            return new(ApprovalVoteOutcome.Forbidden, ApprovalReasonCodes.NotInGroup,
                approval.EscalationGroup is { } later && approval.CurrentState != ApprovalStatus.Escalated
                    ? $"Only members of '{approval.ApproverGroup}' may approve this (and of '{later}' once it escalates)."
                    : $"Only members of '{approval.ApproverGroup}'{(approval.CurrentState == ApprovalStatus.Escalated ? $" or '{approval.EscalationGroup}'" : "")} may approve this.");

        // The agent's own identity never approves its actions, whoever its owner is.
        if (approver == Normalize(approval.AgentId))
            return new(ApprovalVoteOutcome.Forbidden, ApprovalReasonCodes.SeparationOfDuties,
                $"'{approver}' is the agent that proposed this action; an agent cannot approve its own actions.");
        if (approver == Normalize(approval.RequestedBy))
            return new(ApprovalVoteOutcome.Forbidden, ApprovalReasonCodes.SeparationOfDuties, "You requested this action; someone else must approve it.");
        if (approval.ExcludedApprovers.Any(e => Normalize(e) == approver))
            return new(ApprovalVoteOutcome.Forbidden, ApprovalReasonCodes.SeparationOfDuties,
                $"You are on team '{approval.AgentTeam}', which owns agent '{approval.AgentId}'; someone outside it must approve.");
        return null;
    }

    public static bool ShouldExpire(ApprovalState approval, DateTimeOffset now) =>
        ApprovalStatus.IsOpen(approval.CurrentState) && now >= approval.ExpiresAt;

    public static bool ShouldEscalate(ApprovalState approval, DateTimeOffset now) =>
        approval.CurrentState == ApprovalStatus.Pending && approval.EscalationGroup is not null
        && approval.EscalateAt is { } at && now >= at && now < approval.ExpiresAt;

    /// <summary>Whether this consumption may use the grant: null to accept, otherwise (code, reason) for the refusal.</summary>
    public static (string Code, string Reason)? Consumption(ApprovalState approval, ConsumeApproval request, DateTimeOffset now)
    {
        switch (approval.CurrentState)
        {
            case ApprovalStatus.Granted:
                break;
            case ApprovalStatus.Consumed:
                return request.ConsumptionId == approval.ConsumptionId && Binds(approval, request)
                    ? null
                    : (ApprovalReasonCodes.AlreadyConsumed, $"This grant was already used at {approval.ConsumedAt:O} by another execution.");
            case ApprovalStatus.Pending or ApprovalStatus.Escalated:
                return (ApprovalReasonCodes.NotGranted, "This approval is still waiting for approvers.");
            case ApprovalStatus.Denied:
                return (ApprovalReasonCodes.Denied, $"This approval was denied by {approval.DecidedBy}.");
            case ApprovalStatus.Expired:
                return (ApprovalReasonCodes.Expired, $"This approval expired at {approval.ExpiresAt:O}.");
            case ApprovalStatus.Cancelled:
                return (ApprovalReasonCodes.Cancelled, $"This approval was cancelled: {approval.DecisionReason}");
            default:
                return (ApprovalReasonCodes.UnknownApproval, "No such approval.");
        }

        if (!Binds(approval, request))
            return (ApprovalReasonCodes.BindingMismatch,
                "The action to run is not the one approved (action, run, agent, tool or arguments differ); nothing may run.");
        if (approval.ConsumableUntil is { } until && now > until)
            return (ApprovalReasonCodes.GrantStale, $"The grant had to be used by {until:O}.");
        return null;
    }

    static bool Binds(ApprovalState approval, ConsumeApproval request) =>
        request.ActionId == approval.ActionId && request.RunId == approval.RunId && request.AgentId == approval.AgentId
        && request.Tool == approval.Tool && request.ArgumentsHash == approval.ArgumentsHash;

    static string Word(ApprovalVerdict verdict) => verdict == ApprovalVerdict.Approve ? "approval" : "denial";
}
