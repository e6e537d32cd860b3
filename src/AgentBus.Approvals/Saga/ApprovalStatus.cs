namespace AgentBus.Approvals.Saga;

/// <summary>The saga's states by name, as stored in approval_sagas.current_state and shown (lower case) by the API.</summary>
public static class ApprovalStatus
{
    public const string Pending = nameof(Pending);
    public const string Escalated = nameof(Escalated);
    public const string Granted = nameof(Granted);
    public const string Denied = nameof(Denied);
    public const string Expired = nameof(Expired);
    public const string Cancelled = nameof(Cancelled);
    public const string Consumed = nameof(Consumed);

    public static bool IsOpen(string? state) => state is Pending or Escalated;

    public static string Display(string? state) => (state ?? "unknown").ToLowerInvariant();
}
