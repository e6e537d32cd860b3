namespace AgentBus.Contracts;

/// <summary>
/// An executor claimed the action and is about to call the tool. Executors no longer publish it: the
/// outcome carries <c>executor</c> and <c>startedAt</c>, and the audit records this event from them,
/// under the same id (<see cref="MessageIds.ExecutionStarted"/>).
/// </summary>
public sealed record ExecutionStarted(
    string ActionId,
    string RunId,
    string AgentId,
    string Tool,
    string Executor,
    DateTimeOffset StartedAt);
