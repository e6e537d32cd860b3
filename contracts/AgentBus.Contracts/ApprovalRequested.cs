using System.Text.Json;

namespace AgentBus.Contracts;

/// <summary>
/// Policy asks people to approve one exact action. <see cref="ApprovalId"/> is the approval saga's
/// correlation id, derived from the agent and action (ApprovalIds.For), so a redelivered proposal asks
/// for the same approval, never a second one. The approval binds <see cref="ActionId"/>,
/// <see cref="RunId"/>, <see cref="AgentId"/>, <see cref="Tool"/> and <see cref="ArgumentsHash"/>
/// (CanonicalJson.Hash of <see cref="Arguments"/>); the approvals service shows the arguments redacted.
/// Separation of duties: <see cref="RequestedBy"/> and everyone in <see cref="ExcludedApprovers"/>
/// (the owning team's members the rule names) cannot approve. <see cref="Current"/> is the present
/// state of what the action changes, when policy knows it, so approvers see a diff.
/// </summary>
public sealed record ApprovalRequested(
    Guid ApprovalId,
    string ActionId,
    string RunId,
    string AgentId,
    string AgentTeam,
    string Tool,
    JsonElement Arguments,
    string ArgumentsHash,
    string RuleId,
    string ApproverGroup,
    int Quorum,
    IReadOnlyList<string> ExcludedApprovers,
    string RequestedBy,
    DateTimeOffset RequestedAt,
    DateTimeOffset ExpiresAt,
    string? EscalationGroup = null,
    TimeSpan? EscalationDelay = null,
    string? PolicyVersion = null,
    string? Intent = null,
    string? IdempotencyKey = null,
    JsonElement? Current = null,
    string? Operation = null,
    string? Compensates = null);
