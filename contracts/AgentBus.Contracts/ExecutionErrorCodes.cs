namespace AgentBus.Contracts;

/// <summary>
/// Machine-readable <see cref="ActionFailed.ErrorCode"/>s an executor gives when it refuses a
/// command (nothing ran, <see cref="ActionFailed.OutcomeUnknown"/> is false) or when the outcome of
/// a call cannot be known. Tool plugins add their own codes (e.g. "http_404", "timeout").
/// </summary>
public static class ExecutionErrorCodes
{
    public const string AuthorizationMissing = "authorization_missing";
    public const string AuthorizationUnknownKey = "authorization_unknown_key";
    public const string AuthorizationInvalid = "authorization_invalid";
    public const string AuthorizationExpired = "authorization_expired";
    public const string WrongTool = "wrong_tool";
    public const string ArgumentsChanged = "arguments_changed";

    /// <summary>
    /// Refusals of a command that the policy service did not sign as delivered. They say nothing
    /// about the action whose id the command carries: they settle no budget and end no action.
    /// Every other refusal is of a command the policy service did sign, and is that action's final word.
    /// </summary>
    public static readonly IReadOnlySet<string> UnsignedCommand = new HashSet<string>(StringComparer.Ordinal)
    {
        AuthorizationMissing, AuthorizationUnknownKey, AuthorizationInvalid, WrongTool, ArgumentsChanged,
    };

    /// <summary>True for a refusal that must not end or settle the action it names (see <see cref="UnsignedCommand"/>).</summary>
    public static bool EndsNoAction(ActionFailed failed) => failed.Refused && UnsignedCommand.Contains(failed.ErrorCode);

    /// <summary>The action id was already executed for another agent, tool or arguments.</summary>
    public const string ActionIdReused = "action_id_reused";

    /// <summary>The tool's circuit breaker is open: the call was not attempted.</summary>
    public const string CircuitOpen = "circuit_open";

    /// <summary>A copy claimed the action and stopped (crash, lost database) while calling the tool.</summary>
    public const string ExecutorLost = "executor_lost";

    /// <summary>An operator found that an outcome-unknown action did not happen (agentbus actions resolve --failed).</summary>
    public const string ResolvedFailed = "resolved_failed";

    public const string Timeout = "timeout";
    public const string ToolError = "tool_error";
}
