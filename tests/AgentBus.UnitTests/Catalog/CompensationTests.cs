using System.Text.Json;
using AgentBus.Catalog;
using AgentBus.Catalog.Yaml;

namespace AgentBus.UnitTests.Catalog;

/// <summary>
/// An operation names the operation that undoes it and where that one's arguments come from, or says
/// it is irreversible; the loader refuses a compensation whose arguments could not be built.
/// </summary>
public class CompensationTests
{
    /// <summary>cancel_refund (line 5) and get_refund (line 16) first; refund starts on line 22 and its extra lines on line 27.</summary>
    static string Catalog(params string[] refundLines) => string.Join("\n",
    [
        "tool: shop",
        "http:",
        "  baseUrl: https://api.example.com",
        "operations:",
        "  - name: cancel_refund",
        "    description: Cancel a refund.",
        "    capabilities: [money.move]",
        "    arguments:",
        "      type: object",
        "      additionalProperties: false",
        "      required: [refundId]",
        "      properties:",
        "        refundId: {type: string, pattern: '^RF-[0-9]+$'}",
        "        note: {type: string, maxLength: 10}",
        "    http: {method: POST, path: '/refunds/{refundId}/cancel'}",
        "  - name: get_refund",
        "    description: Read a refund.",
        "    capabilities: [read]",
        "    readOnly: true",
        "    arguments: {type: object, properties: {refundId: {type: string}}, required: [refundId]}",
        "    http: {method: GET, path: '/refunds/{refundId}'}",
        "  - name: refund",
        "    description: Refund an order.",
        "    capabilities: [money.move]",
        "    arguments: {type: object, additionalProperties: false, properties: {orderId: {type: string}, amountUsd: {type: number}}, required: [orderId, amountUsd]}",
        "    http: {method: POST, path: '/orders/{orderId}/refunds'}",
        .. refundLines.Select(line => "    " + line),
    ]) + "\n";

    /// <summary>From line 27: the compensation of refund, with <paramref name="arguments"/> (each "name: source") under it; its entries start on line 28.</summary>
    static string[] Undo(string operation = "cancel_refund", params string[] arguments) =>
        ["compensation:", $"  operation: {operation}", "  arguments:", .. arguments.Select(a => "    " + a)];

    static string[] Valid => Undo("cancel_refund", "refundId: /result/body/refundId", "note: {value: undo}");

    static CatalogTool Loads(string text)
    {
        var (tool, errors) = CatalogLoader.Parse(text, "shop.yaml", "shop");
        Assert.Empty(errors);
        return tool!;
    }

    static void RefusedAt(string text, int line, string expected)
    {
        var (tool, errors) = CatalogLoader.Parse(text, "shop.yaml", "shop");
        Assert.Null(tool);
        Assert.True(errors.Any(e => e.StartsWith($"shop.yaml:{line}: ", StringComparison.Ordinal) && e.Contains(expected, StringComparison.Ordinal)),
            $"expected shop.yaml:{line}: …{expected}…, got:\n{string.Join("\n", errors)}");
    }

    static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();

    [Fact]
    public void A_compensation_loads_with_its_arguments_in_order()
    {
        var refund = Loads(Catalog(Valid)).Operations["refund"];

        var compensation = refund.Compensation!;
        Assert.Equal("shop.cancel_refund", compensation.FullName);
        Assert.Equal(["refundId", "note"], compensation.Arguments.Select(a => a.Name));
        Assert.Equal("/result/body/refundId", compensation.Arguments[0].Pointer);
        Assert.Equal("undo", compensation.Arguments[1].Value!.Value.GetString());
        Assert.False(refund.Irreversible);
    }

    [Fact]
    public void An_irreversible_operation_loads_with_its_reason()
    {
        var refund = Loads(Catalog("irreversible: true", "irreversibleReason: ' Money once sent stays sent. '")).Operations["refund"];

        Assert.True(refund.Irreversible);
        Assert.Equal("Money once sent stays sent.", refund.IrreversibleReason);
        Assert.Null(refund.Compensation);
    }

    [Fact]
    public void A_compensation_and_irreversible_together_are_refused() =>
        RefusedAt(Catalog([.. Valid, "irreversible: true"]), 28, "both a compensation and irreversible: true");

    [Fact]
    public void A_reason_without_irreversible_is_refused() =>
        RefusedAt(Catalog("irreversibleReason: because"), 22, "irreversibleReason but does not say irreversible: true");

    [Fact]
    public void A_compensation_naming_an_operation_the_tool_does_not_have_is_refused() =>
        RefusedAt(Catalog(Undo("refund_cancel", "refundId: /result/body/refundId")), 28, "compensation.operation 'refund_cancel' is not an operation of tool 'shop'");

    [Fact]
    public void A_read_only_operation_with_a_compensation_is_refused() =>
        RefusedAt(Catalog(["readOnly: true", .. Valid]), 29, "is readOnly: it changes nothing, so there is nothing to undo");

    [Fact]
    public void A_read_only_compensating_operation_is_refused() =>
        RefusedAt(Catalog(Undo("get_refund", "refundId: /result/body/refundId")), 28, "compensation.operation 'shop.get_refund' is readOnly");

    [Theory]
    [InlineData("result/body/refundId")]
    [InlineData("/body/refundId")]
    [InlineData("''")]
    [InlineData("/result/body/a~2b")]
    [InlineData("/Result/body/refundId")]
    public void A_source_that_is_not_a_pointer_into_the_arguments_or_the_result_is_refused(string pointer) =>
        RefusedAt(Catalog(Undo("cancel_refund", $"refundId: {pointer}")), 28, "is not a JSON Pointer starting with /arguments or /result");

    [Fact]
    public void A_pointer_into_an_argument_the_original_operation_does_not_declare_is_refused() =>
        RefusedAt(Catalog(Undo("cancel_refund", "refundId: /result/body/refundId", "note: /arguments/reason")), 28,
            "/arguments/reason names argument 'reason', which shop.refund does not declare");

    [Fact]
    public void A_required_argument_of_the_compensating_operation_left_unmapped_is_refused() =>
        RefusedAt(Catalog(Undo("cancel_refund", "note: {value: undo}")), 28, "gives no value for 'refundId', which shop.cancel_refund requires");

    [Fact]
    public void An_argument_the_compensating_operation_does_not_take_is_refused() =>
        RefusedAt(Catalog([.. Valid, "    reason: /arguments/orderId"]), 28, "shop.cancel_refund takes no argument 'reason'");

    [Theory]
    [InlineData("note: {value: 'far too long a note'}", "/note:")]
    [InlineData("note: {value: 12}", "/note:")]
    [InlineData("note: {constant: undo}", "must be a JSON Pointer (/arguments/… or /result/…) or a constant")]
    public void A_constant_that_does_not_fit_the_compensating_schema_is_refused(string argument, string expected) =>
        RefusedAt(Catalog(Undo("cancel_refund", "refundId: /result/body/refundId", argument)), 28, expected);

    [Fact]
    public void The_builder_takes_values_from_the_result_the_arguments_and_constants()
    {
        var text = Catalog(Undo("cancel_refund", "refundId: /result/body/refundIds/1", "note: /arguments/orderId"));
        var compensation = Loads(text).Operations["refund"].Compensation!;

        var built = compensation.Build(
            Json("""{"orderId": "ORD-1", "amountUsd": 5}"""),
            Json("""{"status": 201, "body": {"refundIds": ["RF-1", "RF-2"]}}"""));

        Assert.True(built.Succeeded, built.Error);
        Assert.Equal("""{"refundId":"RF-2","note":"ORD-1"}""", built.Arguments!.Value.GetRawText());
    }

    [Fact]
    public void The_builder_adds_constants()
    {
        var built = Loads(Catalog(Valid)).Operations["refund"].Compensation!.Build(
            Json("""{"orderId": "ORD-1", "amountUsd": 5}"""), Json("""{"status": 201, "body": {"refundId": "RF-000001"}}"""));

        Assert.Equal("""{"refundId":"RF-000001","note":"undo"}""", built.Arguments!.Value.GetRawText());
    }

    [Fact]
    public void A_pointer_that_finds_nothing_in_the_result_is_named()
    {
        var built = Loads(Catalog(Valid)).Operations["refund"].Compensation!.Build(
            Json("""{"orderId": "ORD-1", "amountUsd": 5}"""), Json("""{"status": 201, "body": "created"}"""));

        Assert.False(built.Succeeded);
        Assert.Equal("shop.cancel_refund: argument 'refundId' comes from /result/body/refundId, which found nothing in the original result.", built.Error);
    }

    [Fact]
    public void A_missing_original_result_finds_nothing_even_for_the_whole_result()
    {
        var compensation = Loads(Catalog(Undo("cancel_refund", "refundId: /result"))).Operations["refund"].Compensation!;

        var built = compensation.Build(Json("""{"orderId": "ORD-1", "amountUsd": 5}"""), default);

        Assert.Contains("/result, which found nothing in the original result", built.Error);
    }

    [Fact]
    public void Built_arguments_that_do_not_fit_the_compensating_schema_are_refused()
    {
        var built = Loads(Catalog(Valid)).Operations["refund"].Compensation!.Build(
            Json("""{"orderId": "ORD-1", "amountUsd": 5}"""), Json("""{"status": 201, "body": {"refundId": 17}}"""));

        Assert.False(built.Succeeded);
        Assert.StartsWith("shop.cancel_refund: the built arguments do not fit its schema: /refundId:", built.Error);
    }

    [Fact]
    public void A_written_compensation_reads_back_the_same()
    {
        var original = Loads(Catalog(Valid)).Operations["refund"].Compensation!;
        var written = CatalogWriter.Write(YamlReading.Deserializer().Deserialize<CatalogDocument>(Catalog(Valid)));

        var reread = Loads(written).Operations["refund"].Compensation!;

        Assert.Equal(original.Arguments.Select(a => (a.Name, a.Pointer, a.Value?.GetRawText())),
            reread.Arguments.Select(a => (a.Name, a.Pointer, a.Value?.GetRawText())));
    }

    [Theory]
    [InlineData("", new string[0])]
    [InlineData("/", new[] { "" })]
    [InlineData("/a~1b/~01", new[] { "a/b", "~1" })]
    public void JSON_pointers_unescape_per_RFC_6901(string pointer, string[] tokens) =>
        Assert.Equal(tokens, JsonPointers.Parse(pointer));

    [Theory]
    [InlineData("/list/01")]
    [InlineData("/list/2")]
    [InlineData("/list/-")]
    [InlineData("/missing")]
    public void A_pointer_step_that_names_nothing_finds_nothing(string pointer) =>
        Assert.False(JsonPointers.TryResolve(Json("""{"list": [1, 2]}"""), JsonPointers.Parse(pointer)!, out _));
}
