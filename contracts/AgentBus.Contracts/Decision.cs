using System.Text.Json.Serialization;

namespace AgentBus.Contracts;

[JsonConverter(typeof(JsonStringEnumConverter<Decision>))]
public enum Decision
{
    [JsonStringEnumMemberName(DecisionNames.Allowed)]
    Allowed,

    [JsonStringEnumMemberName(DecisionNames.Denied)]
    Denied,

    [JsonStringEnumMemberName(DecisionNames.ApprovalRequired)]
    ApprovalRequired,
}
