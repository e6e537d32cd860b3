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

public class AgentIngressHostileInputTests
{
    readonly AgentMessageDeserializer<ActionProposed> _deserializer = new(maxBodyBytes: 4096);

    [Theory]
    [InlineData("agentId")]
    [InlineData("tool")]
    [InlineData("arguments")]
    public void A_field_given_twice_is_refused_as_invalid_json(string field)
    {
        // One reader would take the first value, another the last: the proposal must not say two things.
        var first = field == "arguments" ? "\"arguments\":{\"n\":1}," : $"\"{field}\":\"someone-else\",";
        var body = "{" + first + "\"actionId\":\"0193e3c2-6f1a-7c3b-9d4e-2a1b3c4d5e6f\",\"runId\":\"r\",\"agentId\":\"a\",\"tool\":\"t\",\"arguments\":{}}";
        Assert.Equal(ReasonCodes.InvalidJson, _deserializer.Inspect(Encoding.UTF8.GetBytes(body))?.ReasonCode);
    }

    [Fact]
    public void A_baggage_header_that_is_not_a_table_is_hidden_from_MassTransit()
    {
        var headers = new MassTransit.Serialization.DictionarySendHeaders(new Dictionary<string, object?>
        {
            ["MT-Activity-Correlation-Context"] = "{0}{1}",
            ["MT-Activity-Id"] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        });

        var readable = AgentHeaders.Readable(headers);

        Assert.False(readable.TryGetHeader("MT-Activity-Correlation-Context", out _));
        Assert.DoesNotContain(readable.GetAll(), h => h.Key == "MT-Activity-Correlation-Context");
        Assert.True(readable.TryGetHeader("MT-Activity-Id", out var traceParent));
        Assert.Equal("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", traceParent);
    }

    [Fact]
    public void A_baggage_table_is_left_alone()
    {
        var headers = new MassTransit.Serialization.DictionarySendHeaders(new Dictionary<string, object?>
        {
            ["MT-Activity-Correlation-Context"] = new Dictionary<string, object?> { ["agentbus.run_id"] = "run-1" },
        });

        Assert.Same(headers, AgentHeaders.Readable(headers));
    }
}
