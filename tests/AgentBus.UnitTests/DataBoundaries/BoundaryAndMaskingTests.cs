using System.Text.Json;
using AgentBus.Audit.Redaction;
using AgentBus.Contracts;
using AgentBus.DataBoundaries;
using AgentBus.Executor.Execution;

namespace AgentBus.UnitTests.DataBoundaries;

/// <summary>The rule an operation declares (accepts, max), and masking what may not be kept or seen.</summary>
public class BoundaryAndMaskingTests
{
    const string Card = "4111 1111 1111 1111";
    const string GitHubToken = "ghp_R8x2mQ7vL4nT9kW3pZ6yB1cF5hJ0dS2aE4gU";

    static DataClassification Classify(string json)
    {
        using var document = JsonDocument.Parse(json);
        return DataClassifier.Classify(document.RootElement);
    }

    static JsonElement Json(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    static readonly DataBoundary EmailsAtMostTwo = new([DataClasses.Email], new Dictionary<string, int> { [DataClasses.Email] = 2 });

    [Fact]
    public void Matches_in_one_value_are_counted_once_each_and_a_decoded_copy_does_not_count_again()
    {
        var found = Classify("""{"to":"a@example.com, b@example.com; c@example.com","cc":"d%40example.com"}""").Findings;

        Assert.Equal(3, found.Single(f => f.Pointer == "/to").Occurrences);
        Assert.Equal(1, found.Single(f => f.Pointer == "/cc").Occurrences);
    }

    [Fact]
    public void A_value_recognisable_alone_is_not_found_again_glued_to_its_neighbours()
    {
        var found = Classify("""{"priority":"high","customerEmail":"ada@example.com","split":["ada","@example.com"]}""").Findings;

        Assert.Equal([new DataFinding(DataClasses.Email, "/customerEmail"), new DataFinding(DataClasses.Email, "/split", DataEncodings.Split)], found);
    }

    [Fact]
    public void A_boundary_refuses_classes_it_does_not_accept_naming_class_and_pointer_never_the_value()
    {
        var breach = EmailsAtMostTwo.Check(Classify($$"""{"customerEmail":"ada@example.com","description":"card {{Card}}","notes":["key {{GitHubToken}}"]}"""));

        Assert.NotNull(breach);
        Assert.Equal([DataClasses.Card, DataClasses.ApiKey], breach.Classes);
        var text = breach.Describe();
        Assert.Contains("pii.card at /description", text, StringComparison.Ordinal);
        Assert.Contains("secret.api_key at /notes/0", text, StringComparison.Ordinal);
        Assert.DoesNotContain("4111", text, StringComparison.Ordinal);
        Assert.DoesNotContain("ghp_", text, StringComparison.Ordinal);
        Assert.DoesNotContain("ada@", text, StringComparison.Ordinal);
    }

    [Fact]
    public void A_limit_counts_every_match_across_values()
    {
        Assert.Null(EmailsAtMostTwo.Check(Classify("""{"customerEmail":"ada@example.com","description":"reply to bob@example.com"}""")));

        var breach = EmailsAtMostTwo.Check(Classify("""{"customerEmail":"ada@example.com","description":"cc bob@example.com and eve@example.com"}"""));
        var over = Assert.Single(breach!.OverLimit);
        Assert.Equal((DataClasses.Email, 3, 2), (over.Class, over.Found, over.Max));
        Assert.Contains("pii.email 3 times at /customerEmail, /description (at most 2)", breach.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void Nothing_found_holds_even_for_a_closed_boundary_and_an_incomplete_classification_never_holds()
    {
        Assert.Null(DataBoundary.Closed.Check(Classify("""{"orderId":"ORD-1001","amountUsd":12.5}""")));

        var many = "{" + string.Join(",", Enumerable.Range(0, 150).Select(i => $"\"e{i}\":\"u{i}@example.com\"")) + "}";
        var lenient = new DataBoundary([DataClasses.Email], new Dictionary<string, int>());
        var breach = lenient.Check(Classify(many));
        Assert.NotNull(breach);
        Assert.Equal(DataClassification.MaxFindings, breach.Truncation);
        Assert.Contains("stopped early", breach.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_grant_only_narrows_to_classes_both_accept_at_the_lower_limit()
    {
        var operation = new DataBoundary([DataClasses.Email, DataClasses.Phone], new Dictionary<string, int> { [DataClasses.Email] = 5 });

        var narrowed = operation.Narrow([DataClasses.Email, DataClasses.Card], new Dictionary<string, int> { [DataClasses.Email] = 1, [DataClasses.Phone] = 9 });

        Assert.Equal([DataClasses.Email], narrowed.Accepts.Order());
        Assert.Equal(new Dictionary<string, int> { [DataClasses.Email] = 1 }, narrowed.Max);
        Assert.Same(operation, operation.Narrow(null, null));
        Assert.Equal(9, operation.Narrow(null, new Dictionary<string, int> { [DataClasses.Phone] = 9 }).Max[DataClasses.Phone]);
        Assert.Equal("pii.email (at most 1)", narrowed.Describe());
        Assert.Equal("nothing", DataBoundary.Closed.Describe());
    }

    [Theory]
    [InlineData(new[] { "pii.emails" }, null, "unknown data class 'pii.emails'")]
    [InlineData(new[] { "pii.email" }, "pii.card", "which accepts does not list")]
    [InlineData(new[] { "pii.email" }, "pii.email=0", "a limit is at least 1")]
    [InlineData(new[] { "pii.email", "pii.email" }, null, "twice")]
    public void Declarations_that_cannot_mean_anything_are_refused(string[] accepts, string? max, string problem)
    {
        var limits = max is null ? null : new Dictionary<string, int> { [max.Split('=')[0]] = max.Contains('=') ? int.Parse(max.Split('=')[1]) : 1 };
        Assert.Contains(DataBoundary.Problems(accepts, limits), p => p.Contains(problem, StringComparison.Ordinal));
        Assert.Empty(DataBoundary.Problems([DataClasses.Email], new Dictionary<string, int> { [DataClasses.Email] = 1 }));
    }

    [Fact]
    public void The_executor_masks_what_the_agent_is_not_cleared_for_and_records_where()
    {
        var result = Json($$$"""{"status":200,"body":{"orderId":"ORD-1001","customerEmail":"ada@example.com","phone":"+44 20 7946 0958","notes":"paid with {{{Card}}}"}}""");

        var masked = ResultMasker.Mask(result, "ORD-1001", [DataClasses.Email]);

        var body = masked.Result.GetProperty("body");
        Assert.Equal("ada@example.com", body.GetProperty("customerEmail").GetString());
        Assert.Equal("[masked:pii.phone]", body.GetProperty("phone").GetString());
        Assert.Equal("[masked:pii.card]", body.GetProperty("notes").GetString());
        Assert.Equal("ORD-1001", body.GetProperty("orderId").GetString());
        Assert.Equal(200, masked.Result.GetProperty("status").GetInt32());
        Assert.Equal([new MaskedData(DataClasses.Card, "/body/notes"), new MaskedData(DataClasses.Phone, "/body/phone")],
            masked.Masked.OrderBy(m => m.Class, StringComparer.Ordinal));
        Assert.Equal("ORD-1001", masked.ExternalReference);
    }

    [Fact]
    public void Without_a_clearance_every_class_is_masked_and_names_and_references_too()
    {
        var result = Json("""{"body":{"customers":{"ada@example.com":{"tier":"gold"},"other":1},"list":["bob@example.com"]}}""");

        var masked = ResultMasker.Mask(result, "bob@example.com", clearance: null);

        var customers = masked.Result.GetProperty("body").GetProperty("customers");
        Assert.Equal(["[masked:pii.email]", "other"], customers.EnumerateObject().Select(p => p.Name));
        Assert.Equal("gold", customers.GetProperty("[masked:pii.email]").GetProperty("tier").GetString());
        Assert.Equal("[masked:pii.email]", masked.Result.GetProperty("body").GetProperty("list")[0].GetString());
        Assert.Equal("[masked:pii.email]", masked.ExternalReference);
        Assert.Contains(new MaskedData(DataClasses.Email, "/body/customers/[masked:pii.email]", InPropertyName: true), masked.Masked);
        Assert.DoesNotContain("example.com", masked.Result.GetRawText().Replace("[masked:pii.email]", "", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    [Fact]
    public void A_result_that_cannot_be_inspected_to_the_end_is_masked_whole_and_stays_an_object()
    {
        var huge = "{\"body\":\"" + new string('a', (1 << 20) + 10) + "\"}";

        var masked = ResultMasker.Mask(Json(huge), "ref", [DataClasses.Email]);

        Assert.Equal(JsonValueKind.Object, masked.Result.ValueKind);
        Assert.Equal("[masked:uninspected]", masked.Result.GetProperty("masked").GetString());
        Assert.Equal([new MaskedData(MaskedData.Uninspected, "")], masked.Masked);
        Assert.Equal("[masked:uninspected]", masked.ExternalReference);
    }

    [Fact]
    public void A_clean_result_is_returned_as_it_is()
    {
        var result = Json("""{"status":201,"body":{"ticketId":"TCK-000042","createdAt":"2026-12-03T10:00:00Z"}}""");
        var masked = ResultMasker.Mask(result, "TCK-000042", []);
        Assert.Empty(masked.Masked);
        Assert.Equal(result.GetRawText(), masked.Result.GetRawText());
    }

    [Fact]
    public void The_audit_masks_classified_arguments_and_results_and_keeps_nothing_of_them_for_the_raw_tier()
    {
        var redactor = new AuditRedactor(new RedactionOptions());
        var payload = $$"""{"actionId":"a-1","tool":"ticketing","arguments":{"title":"Help","description":"card {{Card}} key {{GitHubToken}}","contact":"ada@example.com"},"intent":"file it"}""";

        var redacted = redactor.Redact(payload, "ticketing");

        foreach (var copy in new[] { redacted.Json, redacted.Unredacted })
        {
            Assert.DoesNotContain("4111", copy, StringComparison.Ordinal);
            Assert.DoesNotContain("ghp_", copy, StringComparison.Ordinal);
            Assert.DoesNotContain("ada@example.com", copy, StringComparison.Ordinal);
        }
        using var stored = JsonDocument.Parse(redacted.Json);
        Assert.StartsWith("[redacted:", stored.RootElement.GetProperty("arguments").GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.Equal("[redacted:pii.email]", stored.RootElement.GetProperty("arguments").GetProperty("contact").GetString());
        Assert.Equal("Help", stored.RootElement.GetProperty("arguments").GetProperty("title").GetString());
        Assert.Equal("file it", stored.RootElement.GetProperty("intent").GetString());
    }

    [Fact]
    public void The_audit_keeps_an_identifier_that_reads_as_a_card_and_masks_the_same_digits_elsewhere()
    {
        var masked = AuditRedactor.MaskClassified("""{"arguments":{"ticketId":"4111111111111111","note":"4111111111111111"}}""");

        using var document = JsonDocument.Parse(masked);
        Assert.Equal("4111111111111111", document.RootElement.GetProperty("arguments").GetProperty("ticketId").GetString());
        Assert.Equal("[redacted:pii.card]", document.RootElement.GetProperty("arguments").GetProperty("note").GetString());
    }

    [Fact]
    public void A_document_with_bytes_that_are_not_utf8_is_classified_without_throwing()
    {
        byte[] body = [.. "{\"note\":\""u8, 0xE9, 0xFF, .. " mail ada@example.com\"}"u8];
        using var document = JsonDocument.Parse(body);

        Assert.Equal([new DataFinding(DataClasses.Email, "/note")], DataClassifier.Classify(document.RootElement).Findings);
    }

    [Fact]
    public void The_audit_leaves_a_message_without_sensitive_data_byte_for_byte()
    {
        var payload = """{"actionId":"a-1","arguments":{"orderId":"ORD-1001"},"result":{"status":200}}""";
        Assert.Same(payload, AuditRedactor.MaskClassified(payload));
        Assert.Same("not json", AuditRedactor.MaskClassified("not json"));
    }
}
