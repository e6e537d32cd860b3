namespace AgentBus.Contracts;

/// <summary>An eligible approver refused the action; it will not run.</summary>
public sealed record ApprovalDenied(
    Guid ApprovalId,
    string ActionId,
    string RunId,
    string AgentId,
    string Tool,
    string RuleId,
    string DeniedBy,
    string? Comment,
    DateTimeOffset DeniedAt);
