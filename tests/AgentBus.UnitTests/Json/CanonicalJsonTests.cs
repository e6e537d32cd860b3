using System.Text;
using System.Text.Json;
using AgentBus.ServiceDefaults.Json;

namespace AgentBus.UnitTests.Json;

public class CanonicalJsonTests
{
    static string Canonical(string json) => Encoding.UTF8.GetString(CanonicalJson.Serialize(JsonDocument.Parse(json).RootElement));

    [Fact]
    public void Keys_are_sorted_by_utf16_code_units_and_whitespace_removed() =>
        Assert.Equal("""{"a":1,"b":[true,false,null],"c":{"x":"y"}}""", Canonical("""{ "c": {"x":"y"}, "b": [true, false, null], "a": 1 }"""));

    [Fact]
    public void Rfc8785_sorting_example_orders_non_ascii_keys_by_code_unit()
    {
        // RFC 8785 section 3.2.3: sorted by UTF-16 code units, not by locale.
        var json = "{\"\\u20ac\":\"Euro Sign\",\"\\r\":\"Carriage Return\",\"\\ufb33\":\"Hebrew Letter Dalet With Dagesh\",\"1\":\"One\",\"\\ud83d\\ude00\":\"Emoji: Grinning Face\",\"\\u0080\":\"Control\",\"\\u00f6\":\"Latin Small Letter O With Diaeresis\"}";
        Assert.Equal("{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"\u00f6\":\"Latin Small Letter O With Diaeresis\",\"\u20ac\":\"Euro Sign\",\"\ud83d\ude00\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}",
            Canonical(json));
    }

    [Theory]
    [InlineData("0", "0")]
    [InlineData("-0", "0")]
    [InlineData("1.0", "1")]
    [InlineData("100", "100")]
    [InlineData("1e21", "1e+21")]
    [InlineData("1e20", "100000000000000000000")]
    [InlineData("0.000001", "0.000001")]
    [InlineData("0.0000001", "1e-7")]
    [InlineData("123.456", "123.456")]
    [InlineData("-1.5e-10", "-1.5e-10")]
    [InlineData("4.50", "4.5")]
    [InlineData("2e-3", "0.002")]
    [InlineData("333333333.33333329", "333333333.3333333")]
    [InlineData("1E30", "1e+30")]
    [InlineData("9007199254740992", "9007199254740992")]
    public void Numbers_use_the_ecmascript_shortest_form(string input, string expected) =>
        Assert.Equal(expected, Canonical(input));

    [Fact]
    public void Strings_escape_only_quotes_backslashes_and_control_characters() =>
        Assert.Equal("\"a\\\"b\\\\c\\n\\u001f/é<>&\"", Canonical("\"a\\\"b\\\\c\\n\\u001f\\/\\u00e9<>&\""));

    [Fact]
    public void Hash_is_the_same_for_equivalent_documents_and_differs_for_different_ones()
    {
        var a = CanonicalJson.Hash(JsonDocument.Parse("""{"amount": 25.0, "order": "A"}""").RootElement);
        var b = CanonicalJson.Hash(JsonDocument.Parse("""{"order":"A","amount":25}""").RootElement);
        var c = CanonicalJson.Hash(JsonDocument.Parse("""{"order":"A","amount":26}""").RootElement);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.StartsWith("sha256:", a);
    }
}
