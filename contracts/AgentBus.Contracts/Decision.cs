using System.Text.Json.Serialization;

namespace AgentBus.Contracts;

[JsonConverter(typeof(JsonStringEnumConverter<Decision>))]
public enum Decision
{
    [JsonStringEnumMemberName("allowed")]
    Allowed,

    [JsonStringEnumMemberName("denied")]
    Denied,

    [JsonStringEnumMemberName("approval_required")]
    ApprovalRequired,
}
