using System.Text.Json.Serialization;

namespace AgentBus.Contracts;

[JsonConverter(typeof(JsonStringEnumConverter<ApprovalVoteOutcome>))]
public enum ApprovalVoteOutcome
{
    /// <summary>The vote counted (it may have decided the approval).</summary>
    [JsonStringEnumMemberName("recorded")]
    Recorded,

    /// <summary>The same approver already cast the same verdict: nothing changed.</summary>
    [JsonStringEnumMemberName("repeated")]
    Repeated,

    /// <summary>This approver may not vote on this approval (group, separation of duties).</summary>
    [JsonStringEnumMemberName("forbidden")]
    Forbidden,

    /// <summary>The approval is already decided, expired, cancelled or consumed.</summary>
    [JsonStringEnumMemberName("conflict")]
    Conflict,

    /// <summary>No approval has this id.</summary>
    [JsonStringEnumMemberName("not_found")]
    NotFound,
}
