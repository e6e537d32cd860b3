using System.Text.Json;
using System.Text.Json.Nodes;
using AgentBus.Policy.Engine.Rules;
using Json.Schema;

namespace AgentBus.UnitTests.Policy;

/// <summary>The compiled fast path must give JsonSchema.Net's verdict on every schema it accepts.</summary>
public class FastSchemaTests
{
    public static TheoryData<string, string> Pairs() => new()
    {
        { """{"type":"object","required":["a"]}""", """{"a":1}""" },
        { """{"type":"object","required":["a"]}""", """{"b":1}""" },
        { """{"type":"object","required":["a"]}""", """[1]""" },
        { """{"type":["string","null"]}""", """null""" },
        { """{"type":["string","null"]}""", """1""" },
        { """{"type":"integer"}""", """1.0""" },
        { """{"type":"integer"}""", """1.5""" },
        { """{"enum":["GET","POST"]}""", "\"POST\"" },
        { """{"enum":["GET","POST"]}""", "\"post\"" },
        { """{"enum":[1,{"a":[1,2]}]}""", """{"a":[1,2]}""" },
        { """{"enum":[1,{"a":[1,2]}]}""", """1.0""" },
        { """{"const":{"x":true,"y":null}}""", """{"y":null,"x":true}""" },
        { """{"const":{"x":true}}""", """{"x":true,"y":1}""" },
        { """{"properties":{"a":{"type":"number","minimum":0,"maximum":10}}}""", """{"a":10}""" },
        { """{"properties":{"a":{"type":"number","minimum":0,"maximum":10}}}""", """{"a":10.5}""" },
        { """{"properties":{"a":{"exclusiveMinimum":0,"exclusiveMaximum":10}}}""", """{"a":0}""" },
        { """{"properties":{"a":{"exclusiveMinimum":0,"exclusiveMaximum":10}}}""", """{"a":9.99}""" },
        { """{"properties":{"a":{"multipleOf":0.01}}}""", """{"a":10.25}""" },
        { """{"properties":{"a":{"multipleOf":0.01}}}""", """{"a":10.255}""" },
        { """{"properties":{"a":{"type":"string"}},"additionalProperties":false}""", """{"a":"x"}""" },
        { """{"properties":{"a":{"type":"string"}},"additionalProperties":false}""", """{"a":"x","b":1}""" },
        { """{"additionalProperties":{"type":"string"}}""", """{"a":"x","b":1}""" },
        { """{"minProperties":1,"maxProperties":2}""", """{}""" },
        { """{"minProperties":1,"maxProperties":2}""", """{"a":1,"b":2}""" },
        { """{"type":"array","items":{"type":"string"},"minItems":1,"maxItems":2}""", """["a"]""" },
        { """{"type":"array","items":{"type":"string"},"minItems":1,"maxItems":2}""", """["a",1]""" },
        { """{"type":"array","items":{"type":"string"},"minItems":1,"maxItems":2}""", """[]""" },
        { """{"type":"string","minLength":2,"maxLength":3}""", "\"ab\"" },
        { """{"type":"string","minLength":2,"maxLength":3}""", "\"abcd\"" },
        { """{"type":"string","maxLength":2}""", "\"😀😀\"" },
        { """{"type":"string","maxLength":2}""", "\"\\u00e9\\u00e9\"" },
        { """{"type":"string","maxLength":2}""", "\"\\u00e9\\u00e9\\u00e9\"" },
        { """{"type":"string","pattern":"^ORD-[0-9]+$"}""", "\"ORD-12\"" },
        { """{"type":"string","pattern":"^ORD-[0-9]+$"}""", "\"ORD-1x\"" },
        { """{"type":"string","pattern":"[0-9]"}""", "\"abc1\"" },
        { """{"allOf":[{"type":"number"},{"minimum":5}]}""", """4""" },
        { """{"anyOf":[{"type":"number"},{"type":"string"}]}""", """true""" },
        { """{"oneOf":[{"type":"number"},{"type":"integer"}]}""", """1""" },
        { """{"oneOf":[{"type":"number"},{"type":"integer"}]}""", """1.5""" },
        { """{"not":{"type":"null"}}""", """null""" },
        { """{"if":{"properties":{"m":{"const":"POST"}}},"then":{"required":["body"]},"else":{"not":{"required":["body"]}}}""", """{"m":"POST"}""" },
        { """{"if":{"properties":{"m":{"const":"POST"}}},"then":{"required":["body"]},"else":{"not":{"required":["body"]}}}""", """{"m":"GET","body":{}}""" },
        { """{"if":{"properties":{"m":{"const":"POST"}}},"then":{"required":["body"]},"else":{"not":{"required":["body"]}}}""", """{"m":"POST","body":{}}""" },
        { """{"title":"t","description":"d","$comment":"c","examples":["x"],"type":"string"}""", "\"x\"" },
        { """false""", """{}""" },
        { """true""", """{}""" },
    };

    [Theory]
    [MemberData(nameof(Pairs))]
    public void Agrees_with_JsonSchema_Net(string schemaJson, string instanceJson)
    {
        var node = JsonNode.Parse(schemaJson);
        var fast = FastSchema.TryCompile(node);
        Assert.NotNull(fast);
        var instance = JsonDocument.Parse(instanceJson).RootElement;
        var expected = JsonSchema.FromText(schemaJson, new BuildOptions { SchemaRegistry = new SchemaRegistry() }).Evaluate(instance).IsValid;
        Assert.Equal(expected, fast!.IsValid(instance));
    }

    [Theory]
    [InlineData("""{"$ref":"#/$defs/x","$defs":{"x":{"type":"string"}}}""")]
    [InlineData("""{"patternProperties":{"^a":{"type":"string"}}}""")]
    [InlineData("""{"prefixItems":[{"type":"string"}]}""")]
    [InlineData("""{"type":"string","format":"uri"}""")]
    [InlineData("""{"$schema":"http://json-schema.org/draft-07/schema#","type":"string"}""")]
    public void Leaves_keywords_it_does_not_implement_to_JsonSchema_Net(string schemaJson) =>
        Assert.Null(FastSchema.TryCompile(JsonNode.Parse(schemaJson)));
}
