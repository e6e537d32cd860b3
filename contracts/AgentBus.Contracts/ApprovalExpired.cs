namespace AgentBus.Contracts;

/// <summary>Nobody decided before <see cref="ExpiresAt"/>; expiry never approves, so the action will not run.</summary>
public sealed record ApprovalExpired(
    Guid ApprovalId,
    string ActionId,
    string RunId,
    string AgentId,
    string Tool,
    string RuleId,
    IReadOnlyList<string> Approvers,
    int Quorum,
    DateTimeOffset ExpiresAt,
    DateTimeOffset ExpiredAt);
