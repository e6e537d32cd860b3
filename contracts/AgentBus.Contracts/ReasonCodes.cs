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

    /// <summary>The tool has operations and the proposal names none of them, or one it does not have.</summary>
    public const string UnknownOperation = "unknown_operation";
    public const string NoGrant = "no_grant";

    public const string AgentSuspended = "agent_suspended";
    public const string ToolSuspended = "tool_suspended";
    public const string InvalidArguments = "invalid_arguments";
    public const string ConstraintViolated = "constraint_violated";
    public const string DestinationNotAllowed = "destination_not_allowed";

    /// <summary>The arguments carry sensitive data (a class, or more of it) the operation does not accept for this agent; the reason names classes and pointers, never values.</summary>
    public const string DataBoundary = "data_boundary";
    public const string RateLimited = "rate_limited";
    public const string RunToolCallsExceeded = "run_tool_calls_exceeded";
    public const string RunRetriesExceeded = "run_retries_exceeded";
    public const string RunTimeExceeded = "run_time_exceeded";
    public const string BudgetExceeded = "budget_exceeded";
    public const string ApprovalRequired = "approval_required";

    // The final decision on an action that needed approval (it carries the approval id).

    /// <summary>Enough people approved and policy re-checked it: the action runs.</summary>
    public const string ApprovalGranted = "approval_granted";

    public const string ApprovalDenied = "approval_denied";
    public const string ApprovalExpired = "approval_expired";

    /// <summary>The approval was withdrawn (the agent or tool was suspended) before it was used.</summary>
    public const string ApprovalCancelled = "approval_cancelled";

    /// <summary>The grant could not be used: already used, stale, or not for exactly the action proposed.</summary>
    public const string ApprovalRefused = "approval_refused";

    /// <summary>The proposal repeats an admitted action (same idempotency key, or same run, tool and arguments within the window).</summary>
    public const string DuplicateAction = "duplicate_action";

    /// <summary>The action id was already used for a different action.</summary>
    public const string ActionIdReused = "action_id_reused";

    /// <summary>A rollback identity proposed something that is not a compensation (it may only undo).</summary>
    public const string CompensationRequired = "compensation_required";

    /// <summary>A proposal claims to undo an action, but its sender is not a rollback identity.</summary>
    public const string NotRollbackIdentity = "not_rollback_identity";

    /// <summary>
    /// A compensation that does not match what it claims to undo: no such succeeded action, not its declared
    /// compensation, other arguments than the ones built from the original, or an earlier attempt not yet ended.
    /// </summary>
    public const string CompensationInvalid = "compensation_invalid";

    /// <summary>The action id carries the mark reserved for rollback's compensations (begins a0b00d0e-, UUID variant bits 111); use a UUID v7.</summary>
    public const string ActionIdReserved = "action_id_reserved";
}
