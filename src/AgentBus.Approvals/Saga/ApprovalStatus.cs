using AgentBus.Contracts;

namespace AgentBus.Approvals.Saga;

/// <summary>
/// The saga's State names as stored in approval_sagas.current_state; each is a status of
/// <see cref="ApprovalStatusNames"/>, capitalised (a unit test holds the two lists equal).
/// </summary>
public static class ApprovalStatus
{
    public const string Pending = nameof(ApprovalStateMachine.Pending);
    public const string Escalated = nameof(ApprovalStateMachine.Escalated);
    public const string Granted = nameof(ApprovalStateMachine.Granted);
    public const string Denied = nameof(ApprovalStateMachine.Denied);
    public const string Expired = nameof(ApprovalStateMachine.Expired);
    public const string Cancelled = nameof(ApprovalStateMachine.Cancelled);
    public const string Consumed = nameof(ApprovalStateMachine.Consumed);

    public static bool IsOpen(string? state) => ApprovalStatusNames.IsOpen(Display(state));

    public static string Display(string? state) => ApprovalStatusNames.OfState(state);

    /// <summary>For SQL text: <c>current_state IN (…)</c> over these states, literal so partial indexes apply.</summary>
    public static string In(params string[] states) => "(" + string.Join(", ", states.Select(s => $"'{s}'")) + ")";
}
