using System.Text.Json.Serialization;

namespace AgentBus.Contracts;

[JsonConverter(typeof(JsonStringEnumConverter<ApprovalVerdict>))]
public enum ApprovalVerdict
{
    [JsonStringEnumMemberName("approve")]
    Approve,

    [JsonStringEnumMemberName("deny")]
    Deny,
}
