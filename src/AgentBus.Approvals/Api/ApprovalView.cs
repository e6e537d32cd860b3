using System.Text.Json.Nodes;
using AgentBus.Approvals.Approvers;
using AgentBus.Approvals.Display;
using AgentBus.Approvals.Saga;
using AgentBus.Audit.Stories;
using AgentBus.Contracts;

namespace AgentBus.Approvals.Api;

public sealed record VoteView(string Approver, ApprovalVerdict Verdict, string? Comment, DateTimeOffset CastAt, bool ThroughEscalation);

/// <summary>
/// One approval as an approver sees it: redacted arguments, the diff, the rule, the votes, the time left,
/// and (for one approval) the run's story so far, the same <see cref="RunStory"/> `agentbus runs show --json` prints.
/// </summary>
public sealed record ApprovalView(
    Guid ApprovalId,
    string Status,
    string AgentId,
    string AgentTeam,
    string Tool,
    string ActionId,
    string RunId,
    string? Intent,
    JsonNode? Arguments,
    string ArgumentsHash,
    IReadOnlyList<ArgumentChange>? Changes,
    string RuleId,
    string? PolicyVersion,
    string ApproverGroup,
    string? EscalationGroup,
    DateTimeOffset? EscalateAt,
    bool Escalated,
    int Quorum,
    IReadOnlyList<string> Approvers,
    IReadOnlyList<VoteView> Votes,
    string RequestedBy,
    DateTimeOffset RequestedAt,
    DateTimeOffset ExpiresAt,
    long SecondsLeft,
    bool CanVote,
    string? CannotVoteReason,
    string? DecidedBy,
    string? DecisionReason,
    DateTimeOffset? DecidedAt,
    RunStory? Story,
    string? Operation = null)
{
    /// <summary>What approvers are asked to let run: payments.refund, or a generic tool's name.</summary>
    public string Subject => Operation is null ? Tool : $"{Tool}.{Operation}";

    public static ApprovalView From(ApprovalState s, ApproverIdentity viewer, DateTimeOffset now, RunStory? story)
    {
        var open = ApprovalStatus.IsOpen(s.CurrentState);
        var reason = !open ? $"This approval is {ApprovalStatus.Display(s.CurrentState)}."
            : now >= s.ExpiresAt ? "This approval has expired."
            : s.Votes.Any(v => v.Approver == viewer.Name) ? "You have already voted."
            : ApprovalRules.Eligibility(s, viewer.Name, viewer.Groups)?.Reason;
        return new ApprovalView(s.CorrelationId, ApprovalStatus.Display(s.CurrentState), s.AgentId, s.AgentTeam, s.Tool, s.ActionId, s.RunId,
            s.Intent, ArgumentRedactor.Redact(s.Arguments), s.ArgumentsHash, ArgumentDiff.For(s.Arguments, s.Current), s.RuleId, s.PolicyVersion,
            s.ApproverGroup, s.EscalationGroup, s.EscalateAt, s.EscalatedAt is not null, s.Quorum, s.Approvers,
            s.Votes.Select(v => new VoteView(v.Approver, v.Verdict, v.Comment, v.CastAt, v.ThroughEscalation)).ToList(),
            s.RequestedBy, s.RequestedAt, s.ExpiresAt, open ? Math.Max(0, (long)Math.Ceiling((s.ExpiresAt - now).TotalSeconds)) : 0,
            reason is null, reason, s.DecidedBy, s.DecisionReason, s.DecidedAt, story, s.Operation);
    }

    /// <summary>Whether this person may see the approval at all: a member of its group, or of the escalation group once escalated.</summary>
    public static bool Visible(ApprovalState s, ApproverIdentity viewer) =>
        viewer.Groups.Contains(s.ApproverGroup, StringComparer.Ordinal)
        || (s.EscalatedAt is not null && s.EscalationGroup is { } escalation && viewer.Groups.Contains(escalation, StringComparer.Ordinal));
}
