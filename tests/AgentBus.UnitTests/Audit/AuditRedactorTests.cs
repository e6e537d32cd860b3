using System.Text.Json;
using AgentBus.Audit.Redaction;

namespace AgentBus.UnitTests.Audit;

public class AuditRedactorTests
{
    static readonly AuditRedactor Redactor = new(new RedactionOptions
    {
        SensitiveKeys = ["customerEmail"],
        Tools = new()
        {
            ["payments"] = ["body.card", "body.lines[*].iban", "result.customer.phone", "body.items[1]"],
        },
    });

    static JsonElement Redact(object message, string? tool = null, bool changed = true)
    {
        var result = Redactor.Redact(JsonSerializer.Serialize(message), tool);
        Assert.Equal(changed, result.Changed);
        return JsonDocument.Parse(result.Json).RootElement;
    }

    static string At(JsonElement root, params string[] path)
    {
        foreach (var segment in path)
            root = root.ValueKind == JsonValueKind.Array ? root[int.Parse(segment)] : root.GetProperty(segment);
        return root.ValueKind == JsonValueKind.String ? root.GetString()! : root.GetRawText();
    }

    [Theory]
    [InlineData("password")]
    [InlineData("Password")]
    [InlineData("client_secret")]
    [InlineData("X-Api-Key")]
    [InlineData("apiKey")]
    [InlineData("accessToken")]
    [InlineData("refresh_token")]
    [InlineData("Authorization")]
    [InlineData("cookie")]
    [InlineData("private_key")]
    [InlineData("cardNumber")]
    [InlineData("cvv")]
    [InlineData("dbPassword")]
    [InlineData("customerEmail")]
    public void Values_under_keys_that_name_secrets_are_masked_at_any_depth(string key)
    {
        var root = Redact(new { arguments = new { body = new Dictionary<string, object> { [key] = "s3cr3t-value", ["keep"] = "visible" } } });
        Assert.Equal(AuditRedactor.Mask, At(root, "arguments", "body", key));
        Assert.Equal("visible", At(root, "arguments", "body", "keep"));
    }

    [Theory]
    [InlineData("idempotencyKey")]
    [InlineData("argumentsHash")]
    [InlineData("maxTokens")]
    [InlineData("tokenCount")]
    [InlineData("reasonCode")]
    public void Ordinary_keys_are_kept(string key) =>
        Assert.Equal("value-1", At(Redact(new Dictionary<string, object> { [key] = "value-1" }, changed: false), key));

    [Fact]
    public void A_masked_object_is_replaced_whole_and_a_null_secret_stays_null()
    {
        var root = Redact(new { credentials = new { token = new { value = "x", expires = 3 } }, password = (string?)null });
        Assert.Equal(AuditRedactor.Mask, At(root, "credentials", "token"));
        Assert.Equal(JsonValueKind.Null, root.GetProperty("password").ValueKind);
    }

    [Fact]
    public void Tool_paths_mask_the_fields_configured_for_that_tool_only()
    {
        var message = new
        {
            tool = "payments",
            arguments = new
            {
                method = "POST",
                body = new
                {
                    card = new { number = "x", holder = "Ada" },
                    lines = new[] { new { iban = "DE89", amount = 1 }, new { iban = "FR76", amount = 2 } },
                    items = new[] { "a", "b", "c" },
                },
            },
            result = new { customer = new { phone = "+49 30 1234", name = "Ada" } },
        };

        var payments = Redact(message, "payments");
        Assert.Equal(AuditRedactor.Mask, At(payments, "arguments", "body", "card"));
        Assert.Equal(AuditRedactor.Mask, At(payments, "arguments", "body", "lines", "0", "iban"));
        Assert.Equal(AuditRedactor.Mask, At(payments, "arguments", "body", "lines", "1", "iban"));
        Assert.Equal("1", At(payments, "arguments", "body", "lines", "0", "amount"));
        Assert.Equal("a", At(payments, "arguments", "body", "items", "0"));
        Assert.Equal(AuditRedactor.Mask, At(payments, "arguments", "body", "items", "1"));
        Assert.Equal(AuditRedactor.Mask, At(payments, "result", "customer", "phone"));
        Assert.Equal("Ada", At(payments, "result", "customer", "name"));

        var ticketing = Redact(message, "ticketing", changed: false);
        Assert.Equal("DE89", At(ticketing, "arguments", "body", "lines", "0", "iban"));
    }

    [Fact]
    public void A_scoped_path_applies_to_the_result_only()
    {
        var root = Redact(new { arguments = new { customer = new { phone = "1" } }, result = new { customer = new { phone = "2" } } }, "payments");
        Assert.Equal("1", At(root, "arguments", "customer", "phone"));
        Assert.Equal(AuditRedactor.Mask, At(root, "result", "customer", "phone"));
    }

    [Theory]
    [InlineData("card 4111 1111 1111 1111 please", "card [redacted:card] please")]
    [InlineData("4111-1111-1111-1111", "[redacted:card]")]
    [InlineData("order 4111111111111112 (fails Luhn)", "order 4111111111111112 (fails Luhn)")]
    [InlineData("Authorization: Bearer abcdef123456", "Authorization: Bearer [redacted]")]
    [InlineData("Basic validation failed for the request", "Basic validation failed for the request")]
    [InlineData("basic dXNlcjpwYXNzd29yZA==", "basic [redacted]")]
    [InlineData("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc123", "jwt [redacted:jwt]")]
    [InlineData("https://user:hunter2@db.example.com/x", "https://user:[redacted]@db.example.com/x")]
    [InlineData("https://api.example.com/v1?api_key=abc123&page=2", "https://api.example.com/v1?api_key=[redacted]&page=2")]
    [InlineData("https://api.example.com/v1?page=2&access_token=zz", "https://api.example.com/v1?page=2&access_token=[redacted]")]
    public void Secrets_inside_free_text_are_masked(string text, string expected) =>
        Assert.Equal(expected, At(Redact(new { note = text }, changed: text != expected), "note"));

    [Fact]
    public void A_card_number_sent_as_a_json_number_is_masked()
    {
        var root = Redact(JsonDocument.Parse("""{"pan": 4111111111111111, "amount": 12.50}""").RootElement);
        Assert.Equal(AuditRedactor.CardMask, At(root, "pan"));
        Assert.Equal("12.50", At(root, "amount"));
    }

    [Theory]
    [InlineData("orderId", "ORD-4111111111111111")]
    [InlineData("orderId", "4111111111111111")]
    [InlineData("order_id", "4111 1111 1111 1111")]
    [InlineData("actionId", "4111111111111111")]
    [InlineData("runId", "run-5555555555554444")]
    [InlineData("id", "5555555555554444")]
    [InlineData("idempotencyKey", "4111111111111111")]
    [InlineData("externalReference", "4111111111111111")]
    [InlineData("note", "order ORD-4111111111111111 was refunded")]
    [InlineData("note", "see ticket #4111111111111111")]
    [InlineData("note", "file v1.4111111111111111 and run_4111111111111111")]
    [InlineData("sequence", "1234567812345670")]                 // Luhn-valid, but no card network starts with 1
    [InlineData("sentAt", "1700000000004")]                       // a millisecond timestamp (Luhn-valid)
    public void Identifiers_and_numbers_that_only_pass_the_Luhn_check_are_not_cards(string key, string value) =>
        Assert.Equal(value, At(Redact(new Dictionary<string, object> { [key] = value }, changed: false), key));

    [Fact]
    public void Identifier_fields_hold_no_card_even_as_numbers_or_in_arrays()
    {
        var root = Redact(JsonDocument.Parse("""{"orderId": 4111111111111111, "actionIds": ["4111111111111111"]}""").RootElement, changed: false);
        Assert.Equal("4111111111111111", At(root, "orderId"));
        Assert.Equal("4111111111111111", At(root, "actionIds", "0"));
    }

    [Theory]
    [InlineData("card", "4111 1111 1111 1111")]
    [InlineData("pan", "5555555555554444")]
    [InlineData("paymentCard", "3782-822463-10005")]              // Amex in its 4-6-5 groups
    [InlineData("note", "5555555555554444")]                      // the whole value: Luhn and a card network's prefix
    [InlineData("note", "4000 0566 5566 5556")]
    public void Card_numbers_in_card_fields_or_standing_alone_are_masked(string key, string value) =>
        Assert.Equal(AuditRedactor.CardMask, At(Redact(new Dictionary<string, object> { [key] = value }), key));

    [Fact]
    public void A_card_objects_number_is_a_card_whatever_its_prefix()
    {
        // 1234567812345670 passes Luhn; under card.number the field says what it is.
        var root = Redact(new { card = new { number = "1234567812345670", holder = "Ada" }, other = new { number = "1234567812345670" } });
        Assert.Equal(AuditRedactor.CardMask, At(root, "card", "number"));
        Assert.Equal("1234567812345670", At(root, "other", "number"));
    }

    [Fact]
    public void An_execute_tools_signed_authorization_is_kept_and_changes_nothing()
    {
        var result = Redactor.Redact("""
            {"actionId":"0193e3c2-6f1a-7c3b-9d4e-2a1b3c4d5e6f","tool":"ticketing","arguments":{"method":"GET"},
             "authorization":{"keyId":"k1","approvalId":null,"notAfter":"2026-01-01T00:00:00Z","signature":"MEUCIQDx0lJ5_sig-AbC"}}
            """, "ticketing");
        Assert.False(result.Changed);
        Assert.Equal("MEUCIQDx0lJ5_sig-AbC", At(JsonDocument.Parse(result.Json).RootElement, "authorization", "signature"));

        // A string under "authorization" is an HTTP credential and is masked as before.
        Assert.Equal(AuditRedactor.Mask, At(Redact(new { headers = new { authorization = "Bearer abc" } }), "headers", "authorization"));
    }

    [Fact]
    public void Card_masking_can_be_turned_off()
    {
        var redactor = new AuditRedactor(new RedactionOptions { MaskCardNumbers = false });
        Assert.False(redactor.Redact("""{"n":"4111 1111 1111 1111"}""", null).Changed);
    }

    [Fact]
    public void Unstorable_characters_become_replacement_characters()
    {
        var result = Redactor.Redact("""{"a":"x\u0000y","b":"\ud800z","\u0000k":1}""", null);
        Assert.True(result.Changed);
        var root = JsonDocument.Parse(result.Json).RootElement;
        Assert.Equal("x\uFFFDy", root.GetProperty("a").GetString());
        Assert.Equal("\uFFFDz", root.GetProperty("b").GetString());
        Assert.Equal(1, root.GetProperty("\uFFFDk").GetInt32());
    }

    [Fact]
    public void A_document_that_is_not_json_becomes_a_description()
    {
        var result = Redactor.Redact("{not json", null);
        Assert.True(result.Changed);
        Assert.Contains("not valid JSON", JsonDocument.Parse(result.Json).RootElement.GetProperty("unreadable").GetString());
    }

    [Fact]
    public void An_untouched_document_keeps_its_values_and_numbers_exactly()
    {
        const string json = """{"a":[1,2.50,-3e2,true,false,null],"b":{"c":"é ü ß"}}""";
        var result = Redactor.Redact(json, "payments");
        Assert.False(result.Changed);
        Assert.Equal(json, result.Json);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("a..b", "empty segment")]
    [InlineData("a[x]", "neither")]
    [InlineData("a[1", "without ']'")]
    public void Bad_paths_are_reported(string path, string problem)
    {
        Assert.Contains(problem, RedactionPath.TryParse(path, out _));
        var options = new RedactionOptions { Tools = new() { ["t"] = [path] } };
        Assert.Contains(options.Problems(), p => p.Contains("Audit:Redaction:Tools:t", StringComparison.Ordinal));
    }

    [Fact]
    public void Paths_parse_into_segments_and_scopes()
    {
        var path = RedactionPath.Parse("$.result.lines[*].iban");
        Assert.Equal("result", path.Scope);
        Assert.Equal(["lines", "*", "iban"], path.Segments);
        Assert.Null(RedactionPath.Parse("body.a[2]").Scope);
        Assert.Equal(["body", "a", "2"], RedactionPath.Parse("body.a[2]").Segments);
    }
}
