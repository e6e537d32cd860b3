using System.Diagnostics;
using System.Text;
using System.Text.Json;
using AgentBus.DataBoundaries;

namespace AgentBus.UnitTests.DataBoundaries;

/// <summary>The JSON walk, the encodings, the limits, and hostile documents.</summary>
public class DocumentTests
{
    static DataClassification Classify(string json, ClassifierOptions? options = null)
    {
        using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 2048 });
        return DataClassifier.Classify(document.RootElement, options);
    }

    [Fact]
    public void A_finding_names_class_and_pointer_and_never_the_value()
    {
        var result = Classify("""{"order":{"notes":["fine","mail jane.doe@example.com"]},"a/b~c":"4242 4242 4242 4242"}""");

        Assert.True(result.Complete);
        Assert.Equal(
            [new DataFinding(DataClasses.Email, "/order/notes/1"), new DataFinding(DataClasses.Card, "/a~1b~0c")],
            result.Findings);
        Assert.DoesNotContain(result.Findings, f => f.ToString().Contains("jane", StringComparison.Ordinal) || f.ToString().Contains("4242", StringComparison.Ordinal));
    }

    [Fact]
    public void Property_names_are_inspected_and_marked()
    {
        var result = Classify("""{"customers":{"jane.doe@example.com":{"tier":"gold"}}}""");
        Assert.Equal([new DataFinding(DataClasses.Email, "/customers/jane.doe@example.com", null, InPropertyName: true)], result.Findings);

        Assert.Empty(Classify("""{"jane.doe@example.com":1}""", new ClassifierOptions { PropertyNames = false }).Findings);
    }

    [Fact]
    public void A_card_as_a_json_number_is_found() =>
        Assert.Equal([new DataFinding(DataClasses.Card, "/card")], Classify("""{"card":4111111111111111,"qty":3}""").Findings);

    [Fact]
    public void Url_encoded_values_are_decoded_once()
    {
        var result = Classify("""{"q":"https://x.example/?to=jane.doe%40example.com&k=%41KIAIOSFODNN7EXAMPLE"}""");
        Assert.Contains(new DataFinding(DataClasses.Email, "/q", DataEncodings.Url), result.Findings);
        Assert.Contains(new DataFinding(DataClasses.AwsAccessKey, "/q", DataEncodings.Url), result.Findings);
    }

    [Fact]
    public void Double_url_encoding_is_not_decoded_twice() =>
        Assert.Empty(Classify("""{"q":"jane.doe%2540example.com"}""").Findings);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Base64_of_text_is_decoded_and_classified(bool urlSafe)
    {
        var text = Convert.ToBase64String(Encoding.UTF8.GetBytes("card 4242 4242 4242 4242, mail jane.doe@example.com ok?>"));
        if (urlSafe)
            text = text.TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var result = Classify(JsonSerializer.Serialize(new { attachment = text }));
        Assert.Contains(new DataFinding(DataClasses.Card, "/attachment", DataEncodings.Base64), result.Findings);
        Assert.Contains(new DataFinding(DataClasses.Email, "/attachment", DataEncodings.Base64), result.Findings);
        Assert.DoesNotContain(result.Findings, f => f.Class == DataClasses.HighEntropy);
    }

    [Fact]
    public void Base64_of_a_binary_file_is_neither_decoded_nor_a_secret()
    {
        var png = new byte[600];
        new Random(7).NextBytes(png);
        new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }.CopyTo(png, 0);
        Assert.Empty(Classify(JsonSerializer.Serialize(new { image = Convert.ToBase64String(png) })).Findings);
    }

    [Fact]
    public void A_card_split_across_array_items_is_found_on_the_array() =>
        Assert.Contains(new DataFinding(DataClasses.Card, "/card", DataEncodings.Split), Classify("""{"card":["4242","4242","4242","4242"]}""").Findings);

    [Fact]
    public void A_key_split_across_adjacent_members_is_found_on_the_object()
    {
        var result = Classify("""{"cfg":{"k1":"sk_live_51HqLyj","k2":"WDarjtT1zdp7dc","k3":"Qx9"}}""");
        Assert.Contains(new DataFinding(DataClasses.ApiKey, "/cfg", DataEncodings.Split), result.Findings);
    }

    [Fact]
    public void A_webhook_url_split_across_items_is_found_on_the_array() =>
        Assert.Contains(new DataFinding(DataClasses.ApiKey, "/parts", DataEncodings.Split),
            Classify("""{"parts":["https://ho","oks.slack.com/services/T0000","0000/B00000000/XXXXXXXXXXXX","XXXXXXXXXXXX"]}""").Findings);

    [Fact]
    public void Adjacent_ids_glued_together_are_not_a_split_finding() =>
        Assert.Empty(Classify("""{"orderId":"ORD-73544","sha":"e255243d83b7","image":"logo@2x.png","note":"annual report","remote":"git@github.com:a/b.git"}""").Findings);

    [Fact]
    public void Deep_nesting_stops_at_max_depth_without_crashing()
    {
        var json = new string('[', 1000) + "\"jane.doe@example.com\"" + new string(']', 1000);
        var result = Classify(json);
        Assert.False(result.Complete);
        Assert.Equal(DataClassification.MaxDepth, result.Truncation);

        var hundred = new string('[', 100) + "\"jane.doe@example.com\"" + new string(']', 100);
        var found = Classify(hundred);
        Assert.True(found.Complete);
        Assert.Equal("/0" + string.Concat(Enumerable.Repeat("/0", 99)), Assert.Single(found.Findings).Pointer);
    }

    [Fact]
    public void A_one_megabyte_string_is_bounded()
    {
        var huge = string.Concat(Enumerable.Repeat("aB3/", 256 * 1024)) + " jane.doe@example.com";
        var stopwatch = Stopwatch.StartNew();
        var result = Classify(JsonSerializer.Serialize(new { blob = huge }), new ClassifierOptions { MaxInspectedChars = 64 * 1024 });
        Assert.False(result.Complete);
        Assert.Equal(DataClassification.MaxInspectedChars, result.Truncation);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5));

        var full = Classify(JsonSerializer.Serialize(new { blob = huge }), new ClassifierOptions { MaxInspectedChars = 4 << 20 });
        Assert.True(full.Complete);
        Assert.Contains(full.Findings, f => f.Class == DataClasses.Email);
    }

    [Fact]
    public void Lone_surrogates_do_not_throw()
    {
        var result = Classify("""{"a":"\ud800 jane.doe@example.com \udfff","\udc00":"x"}""");
        Assert.Contains(result.Findings, f => f.Class == DataClasses.Email && f.Pointer == "/a");
        Assert.True(result.Complete);

        var text = DataClassifier.Classify("\uD800\uDC00\uDBFF" + "4242 4242 4242 4242" + "\uDFFF");
        Assert.Contains(text.Findings, f => f.Class == DataClasses.Card);
    }

    [Fact]
    public void Findings_stop_at_max_findings()
    {
        var json = JsonSerializer.Serialize(Enumerable.Range(0, 50).Select(i => $"user{i}@example.com"));
        var result = Classify(json, new ClassifierOptions { MaxFindings = 10, JoinSplitValues = false });
        Assert.Equal(10, result.Findings.Count);
        Assert.Equal(DataClassification.MaxFindings, result.Truncation);
    }

    [Fact]
    public void Hostile_strings_never_throw()
    {
        string[] hostile =
        [
            "", "%", "%%%", "%4", "%ZZ", "%F0%9F", "%C3%28", "=", "====", "eyJ", "eyJ.eyJ.", "-----BEGIN ", "://", "a://@", "@", "@@@.", "+", "(", "(1", "+(",
            new string('@', 10_000), new string('9', 10_000), new string('A', 10_000), string.Concat(Enumerable.Repeat("1-", 5000)),
            string.Concat(Enumerable.Repeat("eyJ", 3000)), string.Concat(Enumerable.Repeat("%41", 3000)), "\0\u0001\uFFFF\uFFFE",
        ];
        foreach (var text in hostile)
        {
            DataClassifier.Classify(text);
            Classify(JsonSerializer.Serialize(new[] { text, text }));
        }
    }
}
