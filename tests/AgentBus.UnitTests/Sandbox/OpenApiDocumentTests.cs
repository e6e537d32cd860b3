using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using YamlDotNet.Serialization;

namespace AgentBus.UnitTests.Sandbox;

/// <summary>The document the sandbox serves says exactly what the app does: same routes, resolvable refs, described operations.</summary>
public sealed class OpenApiDocumentTests(SandboxFixture sandbox) : IClassFixture<SandboxFixture>, IAsyncLifetime
{
    static readonly string[] HttpMethods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

    JsonNode _document = null!;

    public async Task InitializeAsync()
    {
        await sandbox.ResetAsync();
        using var response = await sandbox.Client.GetAsync("/openapi.yaml");
        _document = ReadYaml(await response.Content.ReadAsStringAsync());
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Document_is_served_as_yaml_without_a_key_exactly_as_the_repository_holds_it()
    {
        using var response = await sandbox.Client.GetAsync("/openapi.yaml");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/yaml", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(File.ReadAllText(Path.Combine(RepoRoot.Path, "src/AgentBus.SandboxApi/openapi.yaml")), await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public void Document_is_openapi_3_1_for_the_demo_server_with_both_keys_as_security_schemes()
    {
        Assert.StartsWith("3.1.", (string)_document["openapi"]!);
        Assert.Equal("http://127.0.0.1:5080", (string)_document["servers"]![0]!["url"]!);
        var schemes = _document["components"]!["securitySchemes"]!;
        Assert.Equal("apiKey", (string)schemes["paymentsApiKey"]!["type"]!);
        Assert.Equal("header", (string)schemes["paymentsApiKey"]!["in"]!);
        Assert.Equal("X-Api-Key", (string)schemes["paymentsApiKey"]!["name"]!);
        Assert.Equal("http", (string)schemes["ticketingBearer"]!["type"]!);
        Assert.Equal("bearer", (string)schemes["ticketingBearer"]!["scheme"]!);
    }

    [Fact]
    public void Every_documented_operation_is_mapped_and_every_api_route_is_documented()
    {
        var documented = Operations().Select(o => $"{o.Method.ToUpperInvariant()} {o.Path}").Order().ToList();
        var mapped = ((IEndpointRouteBuilder)sandbox.App).DataSources.SelectMany(source => source.Endpoints).OfType<RouteEndpoint>()
            .Where(endpoint => endpoint.RoutePattern.RawText!.StartsWith("/api/", StringComparison.Ordinal))
            .SelectMany(endpoint => endpoint.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.IHttpMethodMetadata>()!.HttpMethods
                .Select(method => $"{method} {endpoint.RoutePattern.RawText}"))
            .Order().ToList();

        Assert.Equal(8, documented.Count);
        Assert.Equal(documented, mapped);
    }

    [Fact]
    public void Every_path_parameter_of_a_route_is_declared_and_required()
    {
        foreach (var (path, method, operation) in Operations())
        {
            var inRoute = RoutePatternFactory.Parse(path).Parameters.Select(p => p.Name).Order();
            var declared = operation["parameters"]?.AsArray().Where(p => (string)p!["in"]! == "path").ToList() ?? [];
            Assert.Equal(inRoute, declared.Select(p => (string)p!["name"]!).Order());
            Assert.All(declared, p => Assert.Equal("true", (string)p!["required"]!));
        }
    }

    [Fact]
    public void Every_ref_resolves_into_components_schemas()
    {
        var schemas = _document["components"]!["schemas"]!.AsObject();
        var refs = Descendants(_document).OfType<JsonObject>().Where(o => o.ContainsKey("$ref")).Select(o => (string)o["$ref"]!).ToList();

        Assert.NotEmpty(refs);
        Assert.All(refs, reference =>
        {
            Assert.StartsWith("#/components/schemas/", reference);
            Assert.True(schemas.ContainsKey(reference["#/components/schemas/".Length..]), $"{reference} does not resolve");
        });
    }

    [Fact]
    public void Every_operation_has_a_unique_id_a_summary_a_description_its_tag_and_the_key_of_its_api()
    {
        var operations = Operations().ToList();

        Assert.Equal(["addComment", "cancelRefund", "closeTicket", "createTicket", "getOrder", "getRefund", "getTicket", "refundOrder"],
            operations.Select(o => (string)o.Operation["operationId"]!).Order());
        Assert.All(operations, o =>
        {
            Assert.False(string.IsNullOrWhiteSpace((string?)o.Operation["summary"]), $"{o.Path} has no summary");
            Assert.True(((string?)o.Operation["description"])?.Length >= 40, $"{o.Path} has no real description");
            var tag = Assert.Single(o.Operation["tags"]!.AsArray());
            var scheme = (string)tag! switch
            {
                "payments" => "paymentsApiKey",
                "ticketing" => "ticketingBearer",
                var other => throw new Xunit.Sdk.XunitException($"{o.Path} has tag {other}"),
            };
            Assert.Equal([scheme], Assert.Single(o.Operation["security"]!.AsArray())!.AsObject().Select(p => p.Key));
            Assert.True(o.Operation["responses"]!.AsObject().ContainsKey("401"), $"{o.Path} does not document 401");
        });
    }

    [Fact]
    public void Every_documented_request_body_field_has_a_description_or_a_described_schema()
    {
        var schemas = _document["components"]!["schemas"]!;
        foreach (var name in new[] { "RefundRequest", "TicketRequest", "CommentForm" })
            foreach (var (field, schema) in schemas[name]!["properties"]!.AsObject())
            {
                var described = schema!["description"] ?? (schema["$ref"] is { } reference
                    ? schemas[((string)reference!)["#/components/schemas/".Length..]]!["description"]
                    : null);
                Assert.True(described is not null, $"{name}.{field} has no description");
            }
    }

    [Theory]
    [InlineData(Credential.None)]
    [InlineData(Credential.Payments)]
    [InlineData(Credential.Ticketing)]
    public async Task Every_operation_answers_only_status_codes_it_documents(Credential credential)
    {
        await sandbox.RefundAsync("ORD-1001", 1m);
        await sandbox.CreateTicketAsync();
        foreach (var (path, method, operation) in Operations())
        {
            var url = path.Replace("{orderId}", "ORD-1001").Replace("{refundId}", "RF-000001").Replace("{ticketId}", "TCK-000001");
            var reply = await sandbox.SendAsync(new HttpMethod(method.ToUpperInvariant()), url, credential);

            var status = ((int)reply.Status).ToString(System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(operation["responses"]!.AsObject().ContainsKey(status), $"{method.ToUpperInvariant()} {url} answered {status}, not documented");
            Assert.Equal("application/json", reply.MediaType);
        }
    }

    IEnumerable<(string Path, string Method, JsonNode Operation)> Operations() =>
        from path in _document["paths"]!.AsObject()
        from method in path.Value!.AsObject()
        where HttpMethods.Contains(method.Key)
        select (path.Key, method.Key, method.Value!);

    static IEnumerable<JsonNode> Descendants(JsonNode node)
    {
        yield return node;
        IEnumerable<JsonNode?> children = node switch
        {
            JsonObject o => o.Select(p => p.Value),
            JsonArray a => a,
            _ => [],
        };
        foreach (var child in children.OfType<JsonNode>())
            foreach (var descendant in Descendants(child))
                yield return descendant;
    }

    /// <summary>YAML to JSON nodes (every scalar a string), to walk the document without an OpenAPI library.</summary>
    static JsonNode ReadYaml(string yaml)
    {
        var graph = new DeserializerBuilder().Build().Deserialize(new StringReader(yaml));
        return JsonNode.Parse(new SerializerBuilder().JsonCompatible().Build().Serialize(graph))!;
    }
}
