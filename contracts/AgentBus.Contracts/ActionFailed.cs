namespace AgentBus.Contracts;

/// <summary>
/// The tool did not succeed. <see cref="OutcomeUnknown"/> is true when the side effect may have
/// happened (a crash or timeout mid-call): an operator reconciles it, nothing retries it.
/// <see cref="Refused"/> is true when the executor refused the command before calling the tool:
/// no side effect was attempted. A refusal whose <see cref="ErrorCode"/> is one of
/// <see cref="ExecutionErrorCodes.UnsignedCommand"/> concerns a delivered command the policy
/// service did not sign as it stands (forged, altered, misrouted): it ends no action, and the action
/// the policy service did authorize under that id, if any, still gets its own outcome.
/// <see cref="Executor"/> and <see cref="StartedAt"/> are set when an executor copy claimed the
/// action and went to call the tool (absent for a refusal before any claim).
/// <see cref="ResolvedBy"/> and <see cref="Evidence"/> are set when an operator resolved an
/// outcome-unknown action (`agentbus actions resolve`): the policy service then publishes this
/// outcome for the action, and only its word counts for it.
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
    DateTimeOffset FailedAt,
    bool Refused = false,
    string? Executor = null,
    DateTimeOffset? StartedAt = null,
    string? ResolvedBy = null,
    string? Evidence = null);
