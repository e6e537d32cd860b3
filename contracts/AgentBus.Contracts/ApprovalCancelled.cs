namespace AgentBus.Contracts;

/// <summary>The approval was withdrawn before it was used (e.g. the agent or tool was suspended); the action will not run.</summary>
public sealed record ApprovalCancelled(
    Guid ApprovalId,
    string ActionId,
    string RunId,
    string AgentId,
    string Tool,
    string RuleId,
    string Reason,
    string CancelledBy,
    DateTimeOffset CancelledAt);
