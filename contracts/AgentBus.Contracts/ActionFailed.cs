namespace AgentBus.Contracts;

/// <summary>
/// The tool did not succeed. <see cref="OutcomeUnknown"/> is true when the side effect may have
/// happened (a crash or timeout mid-call): an operator reconciles it, nothing retries it.
/// </summary>
public sealed record ActionFailed(
    string ActionId,
    string RunId,
    string AgentId,
    string Tool,
    string ErrorCode,
    string Error,
    bool OutcomeUnknown,
    long DurationMs,
    int Attempts,
    DateTimeOffset FailedAt);
