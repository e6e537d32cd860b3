using System.Text.Json.Nodes;
using AgentBus.Catalog;
using AgentBus.Cli.Commands;
using AgentBus.Cli.OpenApi;
using Spectre.Console;

namespace AgentBus.UnitTests.Cli;

/// <summary>
/// `agentbus tools import` on two small specs written for it: Cli/OpenApiSpecs/ticket-desk-3.0.yaml
/// (OpenAPI 3.0, YAML) and payments-3.1.json (OpenAPI 3.1, JSON).
/// </summary>
public sealed class ToolsImportTests
{
    const string Desk = "ticket-desk-3.0.yaml";
    const string Payments = "payments-3.1.json";

    static string SpecPath(string file) => Path.Combine(AppContext.BaseDirectory, "Cli", "OpenApiSpecs", file);

    static async Task<ImportResult> Import(string file, string select, string tool = "desk", string? baseUrl = null)
    {
        var spec = await OpenApiSpec.LoadAsync(SpecPath(file), CancellationToken.None);
        Assert.True(spec.Succeeded, string.Join("\n", spec.Errors));
        return OpenApiImporter.Import(spec.Document!, new ImportRequest(tool, select.Split(','), baseUrl, file));
    }

    static CatalogDocument.OperationEntry Operation(ImportResult result, string name) =>
        Assert.Single(result.Catalog!.Operations, o => o.Name == name);

    static JsonObject Properties(CatalogDocument.OperationEntry operation) => (JsonObject)operation.Arguments!["properties"]!;

    static string[] Required(CatalogDocument.OperationEntry operation) =>
        (operation.Arguments!["required"] as JsonArray)?.Select(n => n!.GetValue<string>()).ToArray() ?? [];

    static string Json(JsonNode? node) => node?.ToJsonString() ?? "null";

    [Fact]
    public async Task Refs_are_inlined_and_allOf_is_merged_into_one_flat_set_of_arguments()
    {
        var result = await Import(Desk, "createTicket");
        var create = Operation(result, "create_ticket");
        var properties = Properties(create);

        // TicketFields (through $ref) and the inline member of NewTicket's allOf, side by side.
        Assert.Equal(["x_request_id", "title", "priority", "due", "tags", "assignee", "requester", "channel"], properties.Select(p => p.Key));
        Assert.Equal(["title", "requester"], Required(create));
        Assert.Equal("""{"type":"string","minLength":1,"maxLength":200}""", Json(properties["title"]));
        Assert.Equal("string", (string)properties["assignee"]!["properties"]!["login"]!["type"]!);
        Assert.DoesNotContain("$ref", Json(create.Arguments));
        Assert.DoesNotContain("allOf", Json(properties));
    }

    [Fact]
    public async Task A_recursive_ref_is_cut_and_named_in_untranslated()
    {
        var create = Operation(await Import(Desk, "createTicket"), "create_ticket");

        // User.manager is a User: inlined once, then cut where it would repeat.
        var manager = Properties(create)["assignee"]!["properties"]!["manager"]!;
        Assert.Equal("""{"type":"object"}""", Json(manager));
        Assert.Contains(create.Untranslated, n => n.Contains("assignee.manager", StringComparison.Ordinal) && n.Contains("'User' refers to itself", StringComparison.Ordinal));
    }

    [Fact]
    public async Task OpenApi_3_0_nullable_becomes_a_type_array()
    {
        var properties = Properties(Operation(await Import(Desk, "createTicket"), "create_ticket"));

        Assert.Equal("""["string","null"]""", Json(properties["priority"]!["type"]));
        Assert.Equal("""["string","null"]""", Json(properties["due"]!["type"]));
        Assert.DoesNotContain("nullable", Json(properties));
    }

    [Fact]
    public async Task OpenApi_only_keywords_and_read_only_properties_are_left_out()
    {
        var result = await Import(Desk, "createTicket,updateTicket");
        var arguments = Json(Operation(result, "create_ticket").Arguments);

        Assert.DoesNotContain("example", arguments);
        Assert.DoesNotContain("xml", arguments);
        Assert.DoesNotContain("discriminator", arguments);
        Assert.DoesNotContain("x-vendor", arguments);
        Assert.DoesNotContain("readOnly", arguments);
        // oneOf stays JSON Schema, its members inlined.
        var channel = Properties(Operation(result, "create_ticket"))["channel"]!["oneOf"]!.AsArray();
        Assert.Equal(2, channel.Count);
        Assert.Equal("""["email"]""", Json(channel[0]!["properties"]!["kind"]!["enum"]));
    }

    [Fact]
    public async Task Path_query_and_header_parameters_become_arguments_placed_by_an_RFC_6570_template()
    {
        var result = await Import(Desk, "listTickets,getTicket");
        var list = Operation(result, "list_tickets");
        var get = Operation(result, "get_ticket");

        Assert.Equal("GET", list.Http!.Method);
        Assert.Equal("/tickets{?status,page}", list.Http.Path);
        Assert.Equal(new Dictionary<string, string> { ["X-Request-Id"] = "x_request_id" }, list.Http.HeaderArguments);
        Assert.Equal("Echoed in the response, for tracing.", (string)Properties(list)["x_request_id"]!["description"]!);
        Assert.Empty(Required(list));

        Assert.Equal("/tickets/{ticket_id}", get.Http!.Path);
        Assert.Equal("""{"type":"integer","format":"int64","minimum":1,"description":"The ticket\u0027s number."}""", Json(Properties(get)["ticket_id"]));
        Assert.Equal(["ticket_id"], Required(get));
        Assert.False((bool)get.Arguments!["additionalProperties"]!);
        Assert.Equal("https://eu.tickets.example.com/v2", result.Catalog!.Http!.BaseUrl);
    }

    [Fact]
    public async Task A_form_body_is_flattened_into_the_arguments_and_sent_as_a_form()
    {
        var note = Operation(await Import(Desk, "addNote"), "add_note");

        Assert.Equal("form", note.Http!.Body);
        Assert.Null(note.Http.BodyArgument);
        Assert.Equal(["ticket_id", "text", "internal", "meta"], Properties(note).Select(p => p.Key));
        Assert.Equal(["ticket_id", "text"], Required(note));
    }

    [Fact]
    public async Task A_json_body_is_flattened_into_the_arguments_and_sent_as_json()
    {
        var refund = Operation(await Import(Payments, "refunds.create", tool: "payments"), "refunds_create");

        Assert.Equal("json", refund.Http!.Body);
        Assert.Null(refund.Http.BodyArgument);
        Assert.Equal(["payment_id", "amount", "reason", "note", "metadata"], Properties(refund).Select(p => p.Key));
        Assert.Equal(["payment_id", "amount"], Required(refund));
        Assert.Equal("""{"type":"string"}""", Json(Properties(refund)["metadata"]!["additionalProperties"]));
        Assert.Equal("""["duplicate","fraudulent","requested_by_customer",null]""", Json(Properties(refund)["reason"]!["enum"]));
    }

    [Fact]
    public async Task A_body_whose_properties_clash_with_a_parameter_goes_under_a_body_argument()
    {
        var update = Operation(await Import(Desk, "updateTicket"), "update_ticket");

        Assert.Equal("body", update.Http!.BodyArgument);
        Assert.Equal("json", update.Http.Body);
        Assert.Equal(["ticket_id", "body"], Properties(update).Select(p => p.Key));
        Assert.Equal(["ticket_id", "body"], Required(update));
        Assert.Equal("Merge into this ticket.", (string)Properties(update)["body"]!["properties"]!["ticket_id"]!["description"]!);
    }

    [Fact]
    public async Task What_cannot_be_translated_is_listed_per_operation()
    {
        var result = await Import(Desk, "listTickets,addAttachment,searchTickets,reindex");

        var list = Operation(result, "list_tickets");
        Assert.Contains(list.Untranslated, n => n.StartsWith("cookie parameter 'session' left out", StringComparison.Ordinal));
        Assert.Contains(list.Untranslated, n => n.StartsWith("query parameter 'filter[state]' left out", StringComparison.Ordinal) && n.Contains("RFC 6570", StringComparison.Ordinal));
        Assert.False(Properties(list).ContainsKey("filter[state]"));

        var attach = Operation(result, "add_attachment");
        Assert.Contains(attach.Untranslated, n => n.Contains("multipart/form-data is not translated", StringComparison.Ordinal));
        Assert.Equal("none", attach.Http!.Body);

        var search = Operation(result, "search_tickets");
        Assert.Contains(search.Untranslated, n => n.StartsWith("query parameter 'where' left out: style deepObject", StringComparison.Ordinal));
        Assert.Contains(search.Untranslated, n => n.StartsWith("query parameter 'ids' is a list: sent comma-separated", StringComparison.Ordinal));
        Assert.Equal("/search{?q,ids}", search.Http!.Path);

        var reindex = Operation(result, "reindex");
        Assert.Contains(reindex.Untranslated, n => n.Contains("'oauth' (OAuth 2)", StringComparison.Ordinal) && n.Contains("only its secret for 'apiKey'", StringComparison.Ordinal));
        Assert.Equal("none", reindex.Http!.Body);
    }

    [Fact]
    public async Task An_operation_whose_path_variable_is_not_an_RFC_6570_name_is_skipped_with_the_reason()
    {
        var result = await Import(Desk, "listTeamMembers,getTicket");

        var skipped = Assert.Single(result.Skipped);
        Assert.Equal("listTeamMembers", skipped.Source);
        Assert.Contains("path parameter 'team-id'", skipped.Reason);
        Assert.Contains("not a valid RFC 6570 variable name", skipped.Reason);
        Assert.Equal(["get_ticket"], result.Imported.Select(o => o.Name));
    }

    [Fact]
    public async Task Select_by_tag_imports_every_operation_with_that_tag()
    {
        var result = await Import(Desk, "admin");

        Assert.Equal(["delete_ticket", "reindex"], result.Imported.Select(o => o.Name));
        Assert.Equal("listTeamMembers", Assert.Single(result.Skipped).Source);
    }

    [Fact]
    public async Task Select_by_operation_id_imports_only_those_operations()
    {
        var result = await Import(Payments, "getPayment", tool: "payments");

        var get = Assert.Single(result.Catalog!.Operations);
        Assert.Equal("get_payment", get.Name);
        Assert.Equal("One payment, with its refunds.", get.Description);
    }

    [Fact]
    public async Task A_selection_that_matches_nothing_is_an_error_naming_it()
    {
        var result = await Import(Desk, "createTicket,closeTicket,billing");

        var error = Assert.Single(result.Errors);
        Assert.Contains("'closeTicket', 'billing' match no operationId or tag", error);
        Assert.Null(result.Yaml);
    }

    [Fact]
    public async Task Changing_operations_get_guessed_capabilities_flagged_for_review_and_reads_are_low_risk()
    {
        var result = await Import(Desk, "getTicket,createTicket,deleteTicket");

        var get = Operation(result, "get_ticket");
        Assert.Equal(["read"], get.Capabilities);
        Assert.Equal("low", get.Risk);
        Assert.True(get.ReadOnly);
        Assert.True(get.Idempotent);
        Assert.DoesNotContain(OpenApiImporter.CapabilitiesGuessed, get.Untranslated);

        var delete = Operation(result, "delete_ticket");
        Assert.Equal(["data.delete"], delete.Capabilities);
        Assert.Equal("medium", delete.Risk);
        Assert.False(delete.ReadOnly);
        Assert.Contains(OpenApiImporter.CapabilitiesGuessed, delete.Untranslated);

        var create = Operation(result, "create_ticket");
        Assert.Equal(["message.send"], create.Capabilities);
        Assert.Contains(OpenApiImporter.CapabilitiesGuessed, create.Untranslated);
    }

    [Fact]
    public async Task The_secret_goes_where_the_security_scheme_says()
    {
        var desk = await Import(Desk, "getTicket");
        Assert.Equal("X-Api-Key", desk.Catalog!.Http!.Secret!.Header);
        Assert.Equal("", desk.Catalog.Http.Secret.Prefix);

        var payments = await Import(Payments, "getPayment", tool: "payments");
        Assert.Equal("Authorization", payments.Catalog!.Http!.Secret!.Header);
        Assert.Equal("Bearer ", payments.Catalog.Http.Secret.Prefix);
    }

    [Fact]
    public async Task A_reserved_header_parameter_is_left_out_and_named()
    {
        var refund = Operation(await Import(Payments, "refunds.create", tool: "payments"), "refunds_create");

        Assert.Empty(refund.Http!.HeaderArguments);
        Assert.Contains(refund.Untranslated, n => n.StartsWith("header parameter 'Idempotency-Key' left out", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_external_reference_is_the_success_responses_id()
    {
        Assert.Equal("/id", Operation(await Import(Desk, "createTicket"), "create_ticket").Http!.ExternalReference);
        Assert.Equal("/refundId", Operation(await Import(Payments, "refunds.create", tool: "payments"), "refunds_create").Http!.ExternalReference);
        Assert.Null(Operation(await Import(Desk, "deleteTicket"), "delete_ticket").Http!.ExternalReference);
    }

    [Fact]
    public async Task The_base_url_option_replaces_the_specs_server()
    {
        var result = await Import(Desk, "getTicket", baseUrl: "http://127.0.0.1:5080/desk");
        Assert.Equal("http://127.0.0.1:5080/desk", result.Catalog!.Http!.BaseUrl);

        var refused = await Import(Desk, "getTicket", baseUrl: "http://{host}/desk");
        Assert.StartsWith("--base-url: baseUrl", Assert.Single(refused.Errors));
    }

    [Theory]
    [InlineData("issues/create", "issues_create")]
    [InlineData("issues/list-for-repo", "issues_list_for_repo")]
    [InlineData("listTickets", "list_tickets")]
    [InlineData("refunds.create", "refunds_create")]
    [InlineData("getHTTPResponse2", "get_http_response2")]
    [InlineData("--Weird__Name--", "weird_name")]
    [InlineData("ünïcode", "n_code")]
    public void Operation_names_are_snake_case_of_the_operation_id(string operationId, string name)
    {
        Assert.Equal(name, OpenApiImporter.SnakeCase(operationId));
        Assert.Matches(CatalogLoader.OperationNamePattern, name);
    }

    [Theory]
    [InlineData(Desk, "desk", "tickets,admin")]
    [InlineData(Payments, "payments", "payments,refunds")]
    public async Task The_written_catalog_reloads_with_the_same_operations_and_schemas(string file, string tool, string select)
    {
        var result = await Import(file, select, tool);
        Assert.Empty(result.Errors);

        var (loaded, errors) = CatalogLoader.Parse(result.Yaml!, $"{tool}.yaml", tool);
        Assert.Empty(errors);
        Assert.DoesNotContain("compensation", result.Yaml!, StringComparison.Ordinal);
        Assert.DoesNotContain("irreversible", result.Yaml!, StringComparison.Ordinal);
        Assert.Equal(result.Catalog!.Operations.Select(o => o.Name).Order(), loaded!.Operations.Keys.Order());
        foreach (var written in result.Catalog.Operations)
        {
            var read = loaded.Operations[written.Name];
            Assert.Equal(Json(written.Arguments), Json(read.ArgumentSchemaJson));
            Assert.Equal(written.Description, read.Description);
            Assert.Equal(written.Capabilities, read.Capabilities);
            Assert.Equal(written.Untranslated, read.Untranslated);
            // What undoes an operation is a reviewer's call; an OpenAPI document does not say.
            Assert.Null(read.Compensation);
            Assert.False(read.Irreversible);
            Assert.Equal(written.Http!.Method, read.Http!.Method);
            Assert.EndsWith(written.Http.Path, read.Http.Url.ToString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_string_that_reads_as_another_type_is_quoted_in_the_written_file()
    {
        var result = await Import(Payments, "refunds.create", tool: "payments");

        // "default": "true" is a string; unquoted, YAML would read it back as a boolean.
        Assert.Contains("default: \"true\"", result.Yaml);
        Assert.Contains("type: [string, \"null\"]", result.Yaml);
    }

    [Theory]
    [InlineData(".yaml", "openapi: 3.0.3\ninfo: [not, a, map\npaths: {}\n")]
    [InlineData(".yaml", "just a sentence")]
    [InlineData(".yaml", "")]
    [InlineData(".json", "[1, 2]")]
    [InlineData(".json", "{\"openapi\": \"3.0.3\", \"paths\": ")]
    public async Task A_spec_that_does_not_parse_fails_with_the_readers_diagnostics(string extension, string content)
    {
        var file = Path.Combine(Path.GetTempPath(), $"agentbus-broken-{Guid.NewGuid():N}{extension}");
        await File.WriteAllTextAsync(file, content);
        try
        {
            var spec = await OpenApiSpec.LoadAsync(file, CancellationToken.None);
            Assert.False(spec.Succeeded);
            Assert.NotEmpty(spec.Errors);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task The_import_command_writes_TOOL_yaml_into_a_folder_and_prints_its_summary_on_standard_error()
    {
        var folder = Directory.CreateTempSubdirectory("agentbus-import-").FullName;
        try
        {
            var (code, output, error) = await Run("tools", "import", SpecPath(Desk), "--tool", "desk", "--select", "tickets,listTeamMembers", "--out", folder);

            Assert.Equal(0, code);
            Assert.Equal("", output);
            Assert.Contains("Imported 7 of 8 selected operation(s) from ticket-desk-3.0.yaml (OpenAPI 3.0", error);
            Assert.Contains("listTeamMembers", error);
            Assert.Matches(@"in \d+\.\d\d s", error);
            var (tool, errors) = CatalogLoader.Parse(await File.ReadAllTextAsync(Path.Combine(folder, "desk.yaml")), "desk.yaml", "desk");
            Assert.Empty(errors);
            Assert.Equal(7, tool!.Operations.Count);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task The_import_command_exits_with_a_usage_error_naming_an_unknown_selection()
    {
        var (code, output, error) = await Run("tools", "import", SpecPath(Desk), "--tool", "desk", "--select", "nothing-like-it");

        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains("'nothing-like-it' matches no operationId or tag", error);
    }

    [Fact]
    public async Task The_import_command_exits_non_zero_when_nothing_could_be_imported()
    {
        var (code, output, error) = await Run("tools", "import", SpecPath(Desk), "--tool", "desk", "--select", "listTeamMembers");

        Assert.Equal(1, code);
        Assert.Equal("", output);
        Assert.Contains("Imported 0 of 1", error);
    }

    static Task<(int Code, string Output, string Error)> Run(params string[] args) => ToolsCli.Run(args);
}
