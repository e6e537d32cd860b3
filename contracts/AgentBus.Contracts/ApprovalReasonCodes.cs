namespace AgentBus.Contracts;

/// <summary>
/// Machine-readable reasons inside the approval messages (<see cref="ApprovalVoteResult"/>,
/// <see cref="ApprovalConsumptionRefused"/>). They are not ActionDecided reason codes: policy turns an
/// approval outcome into the agent's final decision.
/// </summary>
public static class ApprovalReasonCodes
{
    public const string VoteRecorded = "vote_recorded";
    public const string Granted = "approval_granted";
    public const string Denied = "approval_denied";
    public const string Expired = "approval_expired";
    public const string Cancelled = "approval_cancelled";
    public const string Consumed = "approval_consumed";

    public const string AlreadyVoted = "already_voted";
    public const string AlreadyDecided = "already_decided";
    public const string NotInGroup = "not_in_group";
    public const string SeparationOfDuties = "separation_of_duties";
    public const string UnknownApproval = "unknown_approval";

    public const string NotGranted = "not_granted";
    public const string BindingMismatch = "binding_mismatch";
    public const string GrantStale = "grant_stale";
    public const string AlreadyConsumed = "already_consumed";
}
