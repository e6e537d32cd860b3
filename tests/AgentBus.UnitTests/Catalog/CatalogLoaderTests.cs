using AgentBus.Catalog;

namespace AgentBus.UnitTests.Catalog;

/// <summary>A catalog file the loader refuses says where: file:line: what is wrong.</summary>
public class CatalogLoaderTests
{
    /// <summary>One operation (line 5); its http block's entries start on line 11, the tool's on line 3.</summary>
    static string Catalog(string path = "/items/{id}", string baseUrl = "https://api.example.com", string arguments = "{type: object, properties: {id: {type: string}}, required: [id]}") => $"""
        tool: items
        http:
          baseUrl: {baseUrl}
        operations:
          - name: get
            description: Get an item.
            capabilities: [read]
            readOnly: true
            arguments: {arguments}
            http:
              method: GET
              path: {path}
        """;

    static string RefusedWith(string text)
    {
        var (tool, errors) = CatalogLoader.Parse(text, "items.yaml", "items");
        Assert.Null(tool);
        var error = Assert.Single(errors);
        Assert.Matches(@"^items\.yaml:\d+: ", error);
        return error;
    }

    [Fact]
    public void A_valid_operation_loads()
    {
        var (tool, errors) = CatalogLoader.Parse(Catalog(), "items.yaml", "items");
        Assert.Empty(errors);
        Assert.Equal("https://api.example.com/items/{id}", tool!.Operations["get"].Http!.Url.ToString());
    }

    [Fact]
    public void A_template_variable_that_is_not_an_argument_is_refused_at_its_line()
    {
        var error = RefusedWith(Catalog(path: "/items/{id}/{other}"));
        Assert.StartsWith("items.yaml:11:", error);
        Assert.Contains("{other}, which is not an argument", error);
    }

    [Theory]
    [InlineData("/items/{+id}")]
    [InlineData("/items{/id}")]
    [InlineData("/items/{id*}")]
    [InlineData("/items/{#id}")]
    [InlineData("/items/{.id}")]
    [InlineData("/items/{;id}")]
    [InlineData("/items/{id:3}")]
    public void RFC_6570_operators_and_modifiers_that_can_place_reserved_characters_are_refused(string path)
    {
        var error = RefusedWith(Catalog(path: path));
        Assert.StartsWith("items.yaml:11:", error);
        Assert.Contains("operator or modifier", error);
    }

    [Theory]
    [InlineData("http://{host}/x")]
    [InlineData("https://api.example.com/{tenant}")]
    [InlineData("https://user:secret@api.example.com")]
    [InlineData("https://api.example.com/?a=1")]
    [InlineData("ftp://api.example.com")]
    [InlineData("/relative")]
    public void A_base_url_whose_host_is_not_fixed_is_refused(string baseUrl)
    {
        var (tool, errors) = CatalogLoader.Parse(Catalog(baseUrl: baseUrl), "items.yaml", "items");
        Assert.Null(tool);
        Assert.StartsWith("items.yaml:3: tool 'items': http.baseUrl", errors[0]);
        Assert.Contains("must be a fixed absolute http or https URL", errors[0]);
    }

    [Theory]
    [InlineData("{type: object, properties: {id: {type: 12}}, required: [id]}", "not a valid JSON Schema")]
    [InlineData("{type: object, properties: {id: {type: string, minLength: -1}}, required: [id]}", "not a valid JSON Schema")]
    [InlineData("{type: object, $schema: 'http://json-schema.org/draft-07/schema#', properties: {id: {}}, required: [id]}", "2020-12")]
    [InlineData("{type: array}", "must have type: object")]
    public void An_arguments_schema_that_does_not_compile_is_refused_at_its_operation(string arguments, string expected)
    {
        var (_, errors) = CatalogLoader.Parse(Catalog(arguments: arguments), "items.yaml", "items");
        Assert.Contains(errors, e => e.StartsWith("items.yaml:5:", StringComparison.Ordinal) && e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void A_path_variable_that_is_not_required_is_refused()
    {
        var error = RefusedWith(Catalog(arguments: "{type: object, properties: {id: {type: string}}}"));
        Assert.StartsWith("items.yaml:11:", error);
        Assert.Contains("must be required", error);
    }

    [Fact]
    public void A_dot_segment_in_the_path_is_refused()
    {
        Assert.Contains("'.' or '..' segment", RefusedWith(Catalog(path: "/items/../{id}")));
    }
}
