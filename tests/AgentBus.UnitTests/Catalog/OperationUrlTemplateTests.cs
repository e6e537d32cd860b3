using System.Text.Json;
using AgentBus.Catalog;
using AgentBus.Catalog.Http;

namespace AgentBus.UnitTests.Catalog;

/// <summary>
/// What an agent's argument can do to the request an operation makes: land in its own path segment
/// or query parameter, percent-encoded, or be refused with a reason code. Never another host, another
/// path, another query parameter or a header line of its own.
/// </summary>
public class OperationUrlTemplateTests
{
    const string Catalog = """
        tool: items
        http:
          baseUrl: https://api.example.com/v1
        operations:
          - name: get
            description: Get an item.
            capabilities: [read]
            readOnly: true
            arguments:
              type: object
              properties:
                id: {type: string}
                q: {}
                tags: {type: array}
              required: [id]
            http:
              method: GET
              path: /items/{id}/detail{?q,tags}
          - name: note
            description: Add a note.
            capabilities: [message.send]
            arguments:
              type: object
              properties:
                id: {type: string}
                trace: {type: string}
                text: {type: string}
                metadata: {type: object}
              required: [id]
            http:
              method: POST
              path: /items/{id}/notes
              body: form
              headerArguments:
                X-Trace: trace
        """;

    static readonly CatalogTool Tool = Load();

    static CatalogTool Load()
    {
        var (tool, errors) = CatalogLoader.Parse(Catalog, "items.yaml", "items");
        Assert.True(errors.Count == 0, string.Join("\n", errors));
        return tool!;
    }

    static CatalogOperation Get => Tool.Operations["get"];

    static JsonElement Arguments(object value) => JsonSerializer.SerializeToElement(value);

    static readonly string[] ReasonCodes =
    [
        OperationUrlTemplate.ReasonCodes.MissingPathArgument, OperationUrlTemplate.ReasonCodes.InvalidPathArgument,
        OperationUrlTemplate.ReasonCodes.InvalidQueryArgument, OperationUrlTemplate.ReasonCodes.ArgumentEscapesTemplate,
    ];

    public static TheoryData<string> HostilePathValues() =>
    [
        "../", "..", ".", "../../admin", "?x=1", "#frag", "%2F", "%2E%2E", "%2e%2e%2f", "a\r\nHost: evil.example", "\r\n",
        "http://evil.example/", "//evil.example", "@evil.example", "\uFF0E\uFF0E", "\uFF0E", "\uFF0F", "a\uFF0Fb", "\\", "..\\..\\", "",
        "\u2024\u2024", "\u0000", new string('a', 10_000), new string('/', 70_000),
    ];

    [Theory]
    [MemberData(nameof(HostilePathValues))]
    public void A_hostile_path_value_is_encoded_into_its_own_segment_or_refused_with_a_reason_code(string value)
    {
        var (url, problem) = Get.Http!.Url.Expand(Arguments(new { id = value }));

        if (problem is not null)
        {
            Assert.Null(url);
            Assert.Contains(problem.Code, ReasonCodes);
            return;
        }
        Assert.NotNull(url);
        Assert.Equal("https", url.Scheme);
        Assert.Equal("api.example.com", url.Host);
        Assert.Equal(443, url.Port);
        Assert.Equal("", url.Query);
        Assert.Equal("", url.Fragment);
        var segments = url.AbsolutePath.Split('/');
        Assert.Equal(["", "v1", "items", segments[3], "detail"], segments);
        // The segment is the value itself, percent-encoded: the server decodes it back to what the agent sent.
        Assert.Equal(value, Uri.UnescapeDataString(segments[3]));
    }

    [Theory]
    [InlineData("..")]
    [InlineData(".")]
    [InlineData("../")]
    [InlineData("http://evil.example/")]
    [InlineData("//evil.example")]
    [InlineData("\uFF0E\uFF0E")]
    [InlineData("\uFF0F")]
    [InlineData("\\")]
    [InlineData("\uFF3C")]
    [InlineData("\uFE68")]
    [InlineData("\u2024\u2024")]
    [InlineData("\u2025")]
    [InlineData("\uFE52.")]
    [InlineData("\u2100")]
    public void Values_that_name_another_path_are_refused_as_escaping_the_template(string value)
    {
        var (url, problem) = Get.Http!.Url.Expand(Arguments(new { id = value }));

        Assert.Null(url);
        Assert.Equal(OperationUrlTemplate.ReasonCodes.ArgumentEscapesTemplate, problem!.Code);
    }

    [Fact]
    public void Look_alikes_are_refused_although_the_services_run_with_invariant_globalization()
    {
        // string.Normalize folds nothing in invariant mode; the refusal must not depend on it.
        Assert.Equal("\uFF0E\uFF0E", "\uFF0E\uFF0E".Normalize(System.Text.NormalizationForm.FormKC));
        Assert.NotNull(OperationUrlTemplate.MovesThePath("\uFF0E\uFF0E"));
        Assert.NotNull(OperationUrlTemplate.MovesThePath("a\uFF0Fb"));
        Assert.Null(OperationUrlTemplate.MovesThePath("caf\u00e9 \u2026 ok"));
    }

    [Fact]
    public void An_empty_path_value_is_refused_because_it_would_join_two_segments()
    {
        var (_, problem) = Get.Http!.Url.Expand(Arguments(new { id = "" }));
        Assert.Equal(OperationUrlTemplate.ReasonCodes.ArgumentEscapesTemplate, problem!.Code);
        Assert.Contains("empty", problem.Message);
    }

    [Theory]
    [InlineData("%2F", "%252F")]
    [InlineData("%2E%2E", "%252E%252E")]
    [InlineData("?x=1", "%3Fx%3D1")]
    [InlineData("#frag", "%23frag")]
    [InlineData("a\r\nb", "a%0D%0Ab")]
    public void Reserved_and_percent_characters_are_encoded_not_passed_through(string value, string segment)
    {
        var (url, problem) = Get.Http!.Url.Expand(Arguments(new { id = value }));

        Assert.Null(problem);
        Assert.Equal($"/v1/items/{segment}/detail", url!.AbsolutePath);
    }

    [Fact]
    public void A_missing_path_argument_is_refused()
    {
        var (_, problem) = Get.Http!.Url.Expand(Arguments(new { q = "x" }));
        Assert.Equal(OperationUrlTemplate.ReasonCodes.MissingPathArgument, problem!.Code);
    }

    [Fact]
    public void An_object_as_a_path_argument_is_refused()
    {
        var (_, problem) = Get.Http!.Url.Expand(Arguments(new { id = new { a = 1 } }));
        Assert.Equal(OperationUrlTemplate.ReasonCodes.InvalidPathArgument, problem!.Code);
    }

    [Theory]
    [InlineData("x&admin=true")]
    [InlineData("&admin=true")]
    [InlineData("x#admin")]
    [InlineData("x\r\nadmin: true")]
    [InlineData("%26admin%3Dtrue")]
    public void A_query_value_cannot_add_a_query_parameter(string value)
    {
        var (url, problem) = Get.Http!.Url.Expand(Arguments(new { id = "7", q = value }));

        Assert.Null(problem);
        var pair = Assert.Single(url!.Query.TrimStart('?').Split('&'));
        Assert.StartsWith("q=", pair, StringComparison.Ordinal);
        Assert.Equal(value, Uri.UnescapeDataString(pair[2..]));
        Assert.Equal("", url.Fragment);
    }

    [Fact]
    public void Query_list_items_cannot_add_a_query_parameter_either()
    {
        var (url, problem) = Get.Http!.Url.Expand(Arguments(new { id = "7", tags = new[] { "a&admin=true", "b" } }));

        Assert.Null(problem);
        var pair = Assert.Single(url!.Query.TrimStart('?').Split('&'));
        Assert.Equal("tags=a%26admin%3Dtrue,b", pair);
    }

    [Fact]
    public void An_object_query_value_is_refused()
    {
        var (_, problem) = Get.Http!.Url.Expand(Arguments(new { id = "7", q = new { admin = true } }));
        Assert.Equal(OperationUrlTemplate.ReasonCodes.InvalidQueryArgument, problem!.Code);
    }

    [Theory]
    [InlineData("a\r\nX-Admin: true")]
    [InlineData("a\nb")]
    [InlineData("a\rb")]
    [InlineData("caf\u00e9")]
    public void A_header_argument_with_a_line_break_or_non_ascii_is_refused(string value)
    {
        var (request, problem) = OperationRequest.Build(Tool.Http!, Tool.Operations["note"].Http!, Arguments(new { id = "7", trace = value, text = "hi" }));

        Assert.Null(request);
        Assert.Equal(OperationRequest.InvalidHeaderArgument, problem!.Code);
    }

    [Fact]
    public async Task A_form_body_writes_nested_objects_with_brackets_and_leaves_out_placed_arguments()
    {
        var (request, problem) = OperationRequest.Build(Tool.Http!, Tool.Operations["note"].Http!,
            Arguments(new { id = "7", trace = "t-1", text = "a&b=c", metadata = new { order = 42, tags = new[] { "x", "y" }, customer = new { tier = "gold" } } }));

        Assert.Null(problem);
        Assert.Equal("https://api.example.com/v1/items/7/notes", request!.RequestUri!.AbsoluteUri);
        Assert.Equal("t-1", Assert.Single(request.Headers.GetValues("X-Trace")));
        Assert.Equal("application/x-www-form-urlencoded", request.Content!.Headers.ContentType!.MediaType);
        var form = await request.Content.ReadAsStringAsync();
        Assert.Equal("text=a%26b%3Dc&metadata%5Border%5D=42&metadata%5Btags%5D=x&metadata%5Btags%5D=y&metadata%5Bcustomer%5D%5Btier%5D=gold", form);
    }
}
