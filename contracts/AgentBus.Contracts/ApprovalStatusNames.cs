namespace AgentBus.Contracts;

/// <summary>
/// The one vocabulary of an approval's status. The approval saga's states are these words (its State
/// names, stored in approval_sagas.current_state, are the same words capitalised); the approvals API,
/// the vote result and the policy service's record of the approvals it asked for use them as written here.
/// </summary>
public static class ApprovalStatusNames
{
    /// <summary>Waiting for approvers.</summary>
    public const string Pending = "pending";

    /// <summary>Still waiting, and the escalation group may now approve too.</summary>
    public const string Escalated = "escalated";

    /// <summary>Enough approvers said yes; the grant waits to be used once.</summary>
    public const string Granted = "granted";

    public const string Denied = "denied";
    public const string Expired = "expired";
    public const string Cancelled = "cancelled";

    /// <summary>The grant was handed to the policy service for the one execution it allows.</summary>
    public const string Consumed = "consumed";

    public static readonly IReadOnlyList<string> All = [Pending, Escalated, Granted, Denied, Expired, Cancelled, Consumed];

    public static bool IsOpen(string? status) => status is Pending or Escalated;

    /// <summary>The status a saga state name stands for; "unknown" for none.</summary>
    public static string OfState(string? stateName) =>
        stateName is null ? "unknown" : All.FirstOrDefault(s => string.Equals(s, stateName, StringComparison.OrdinalIgnoreCase)) ?? "unknown";
}
