namespace AgentBus.Contracts;

/// <summary>An executor claimed the action and is about to call the tool.</summary>
public sealed record ExecutionStarted(
    string ActionId,
    string RunId,
    string AgentId,
    string Tool,
    string Executor,
    DateTimeOffset StartedAt);
