namespace AgentBus.Contracts;

/// <summary>Machine-readable reasons carried by <see cref="ActionDecided.ReasonCode"/>.</summary>
public static class ReasonCodes
{
    public const string Allowed = "allowed";

    public const string PayloadTooLarge = "payload_too_large";
    public const string InvalidUtf8 = "invalid_utf8";
    public const string InvalidJson = "invalid_json";
    public const string InvalidFieldType = "invalid_field_type";
    public const string MissingField = "missing_field";
    public const string UnknownField = "unknown_field";
    public const string InvalidField = "invalid_field";

    public const string IdentityMissing = "identity_missing";
    public const string IdentityMismatch = "identity_mismatch";

    public const string PolicyUnavailable = "policy_unavailable";
    public const string UnknownAgent = "unknown_agent";
    public const string UnknownTool = "unknown_tool";
    public const string NoGrant = "no_grant";

    public const string AgentSuspended = "agent_suspended";
    public const string ToolSuspended = "tool_suspended";
    public const string InvalidArguments = "invalid_arguments";
    public const string ConstraintViolated = "constraint_violated";
    public const string DestinationNotAllowed = "destination_not_allowed";
    public const string RateLimited = "rate_limited";
    public const string RunToolCallsExceeded = "run_tool_calls_exceeded";
    public const string RunRetriesExceeded = "run_retries_exceeded";
    public const string RunTimeExceeded = "run_time_exceeded";
    public const string BudgetExceeded = "budget_exceeded";
    public const string ApprovalRequired = "approval_required";

    /// <summary>The proposal repeats an admitted action (same idempotency key, or same run, tool and arguments within the window).</summary>
    public const string DuplicateAction = "duplicate_action";

    /// <summary>The action id was already used for a different action.</summary>
    public const string ActionIdReused = "action_id_reused";
}
