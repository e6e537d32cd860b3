using System.Text;
using AgentBus.Contracts;
using AgentBus.ServiceDefaults.Messaging;

namespace AgentBus.UnitTests.Messaging;

public class AgentMessageDeserializerTests
{
    readonly AgentMessageDeserializer<ActionProposed> _deserializer = new(maxBodyBytes: 1024);

    const string Valid = """{"actionId":"0193e3c2-6f1a-7c3b-9d4e-2a1b3c4d5e6f","runId":"r","agentId":"a","tool":"t","arguments":{}}""";

    [Fact]
    public void A_well_formed_proposal_passes() => Assert.Null(_deserializer.Inspect(Encoding.UTF8.GetBytes(Valid)));

    [Fact]
    public void Field_names_must_be_spelled_as_the_schema_spells_them() =>
        Assert.Equal(ReasonCodes.UnknownField, _deserializer.Inspect(Encoding.UTF8.GetBytes(Valid.Replace("\"actionId\"", "\"ActionId\"")))?.ReasonCode);

    [Theory]
    [InlineData("", ReasonCodes.InvalidJson)]
    [InlineData("null", ReasonCodes.InvalidJson)]
    [InlineData("\"text\"", ReasonCodes.InvalidJson)]
    [InlineData("{\"actionId\":", ReasonCodes.InvalidJson)]
    [InlineData("{\"actionId\": true}", ReasonCodes.InvalidFieldType)]
    [InlineData("{\"arguments\": {}, \"extra\": 1}", ReasonCodes.UnknownField)]
    public void Bad_bodies_get_their_reason_code(string body, string reasonCode) =>
        Assert.Equal(reasonCode, _deserializer.Inspect(Encoding.UTF8.GetBytes(body))?.ReasonCode);

    [Fact]
    public void A_body_over_the_limit_is_refused_before_it_is_parsed()
    {
        var rejection = _deserializer.Inspect(Encoding.UTF8.GetBytes("{" + new string(' ', 2000) + "}"));
        Assert.Equal(ReasonCodes.PayloadTooLarge, rejection?.ReasonCode);
        Assert.Contains("1024", rejection!.Detail);
    }

    [Fact]
    public void Invalid_utf8_is_refused() =>
        Assert.Equal(ReasonCodes.InvalidUtf8, _deserializer.Inspect([0x7B, 0xFF, 0xFE, 0x7D])?.ReasonCode);

    [Fact]
    public void Nesting_deeper_than_64_levels_is_refused() =>
        Assert.Equal(ReasonCodes.InvalidJson, _deserializer.Inspect(Encoding.UTF8.GetBytes(new string('[', 100) + new string(']', 100)))?.ReasonCode);

    [Fact]
    public void A_mistyped_field_still_yields_the_identifiers_that_could_be_read()
    {
        var rejection = _deserializer.Inspect(Encoding.UTF8.GetBytes(
            """{"actionId":"0193e3c2-6f1a-7c3b-9d4e-2a1b3c4d5e6f","runId":"r-9","agentId":7,"tool":"t","arguments":{}}"""));
        Assert.Equal(ReasonCodes.InvalidFieldType, rejection?.ReasonCode);
        Assert.Equal("0193e3c2-6f1a-7c3b-9d4e-2a1b3c4d5e6f", rejection!.ActionId);
        Assert.Equal("r-9", rejection.RunId);
        Assert.Contains("agentId", rejection.Detail);
    }

    [Fact]
    public void A_hostile_field_name_is_truncated_in_the_answer()
    {
        var rejection = _deserializer.Inspect(Encoding.UTF8.GetBytes("{\"" + new string('x', 500) + "\": 1}"));
        Assert.Equal(ReasonCodes.UnknownField, rejection?.ReasonCode);
        Assert.True(rejection!.Detail.Length < 200);
    }
}
