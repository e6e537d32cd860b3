using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using AgentBus.Catalog;
using AgentBus.Catalog.Http;
using AgentBus.Catalog.Yaml;
using Microsoft.OpenApi;

namespace AgentBus.Cli.OpenApi;

/// <param name="Select">operationIds and tags; an operation is imported when any item names it or one of its tags.</param>
/// <param name="BaseUrl">Instead of the spec's first server.</param>
/// <param name="SourceName">The spec's file name, for the header of the written catalog file.</param>
sealed record ImportRequest(string Tool, IReadOnlyList<string> Select, string? BaseUrl = null, string? SourceName = null);

/// <param name="Source">The operationId, or "METHOD /path" when the spec gives none.</param>
sealed record ImportedOperation(string Name, string Source, string Method, string Path, IReadOnlyList<string> Untranslated);

sealed record SkippedOperation(string Source, string Method, string Path, string Reason);

sealed class ImportResult
{
    /// <summary>Problems that stop the import: an unknown selection, no usable base URL.</summary>
    public List<string> Errors { get; } = [];

    /// <summary>About the tool as a whole (its secret), for the reviewer.</summary>
    public List<string> Notes { get; } = [];

    public List<ImportedOperation> Imported { get; } = [];
    public List<SkippedOperation> Skipped { get; } = [];
    public CatalogDocument? Catalog { get; set; }

    /// <summary>The catalog file, loadable by <see cref="CatalogLoader"/>; null when nothing was imported.</summary>
    public string? Yaml { get; set; }
}

/// <summary>
/// `agentbus tools import`: the chosen operations of an OpenAPI document as one tool's catalog file.
/// Each operation's arguments are its path, query and header parameters and its request body, as
/// one JSON Schema; its URL an RFC 6570 template the catalog checks. What cannot be translated
/// faithfully is named in the operation's untranslated list, or the operation is skipped with the
/// reason: never guessed silently. Capabilities of a changing operation are a guess from its method,
/// and say so. Every written operation has been loaded back by <see cref="CatalogLoader"/>.
/// </summary>
static partial class OpenApiImporter
{
    public const int MaxDescriptionLength = CatalogLoader.MaxDescriptionLength;
    public const string CapabilitiesGuessed = "capabilities guessed from the method: review";
    static readonly string[] Methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

    sealed record SpecOperation(string Path, string Method, IOpenApiPathItem PathItem, OpenApiOperation Operation)
    {
        public string Source => Operation.OperationId is { Length: > 0 } id ? id : $"{Method} {Path}";

        public IEnumerable<string> Tags => Operation.Tags?.Select(t => t.Reference.Id ?? t.Name ?? "") ?? [];
    }

    public static ImportResult Import(OpenApiDocument document, ImportRequest request)
    {
        var result = new ImportResult();
        if (!Regex.IsMatch(request.Tool, CatalogLoader.ToolNamePattern))
        {
            result.Errors.Add($"--tool '{request.Tool}' is not a valid tool name: 1-64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit.");
            return result;
        }

        var selection = request.Select.Select(s => s.Trim()).Where(s => s.Length > 0).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        if (selection.Count == 0)
        {
            result.Errors.Add("--select names no operationId or tag.");
            return result;
        }
        var all = Operations(document).ToList();
        var matched = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var chosen = new List<SpecOperation>();
        foreach (var operation in all)
        {
            var hits = selection.Where(item => string.Equals(operation.Operation.OperationId, item, StringComparison.OrdinalIgnoreCase)
                                               || operation.Tags.Contains(item, StringComparer.OrdinalIgnoreCase)).ToList();
            matched.UnionWith(hits);
            if (hits.Count > 0)
                chosen.Add(operation);
        }
        var unmatched = selection.Where(item => !matched.Contains(item)).ToList();
        if (unmatched.Count > 0)
        {
            var declaredTags = document.Tags?.Select(t => t.Name).ToHashSet(StringComparer.OrdinalIgnoreCase) ?? [];
            result.Errors.Add($"--select: {string.Join(", ", unmatched.Select(u => declaredTags.Contains(u) ? $"'{u}' (a declared tag no operation has)" : $"'{u}'"))} " +
                              $"match{(unmatched.Count == 1 ? "es" : "")} no operationId or tag of the spec's {all.Count} operations.");
            return result;
        }

        var baseUrl = request.BaseUrl ?? ServerUrl(document, result);
        if (baseUrl is null)
            return result;
        if (!OperationUrlTemplate.TryParseBase(baseUrl, out var baseUri, out var problem))
        {
            result.Errors.Add((request.BaseUrl is null ? "servers[0].url: " : "--base-url: ") + problem + (request.BaseUrl is null ? " Pass --base-url." : ""));
            return result;
        }

        var security = Security.Choose(document, chosen.Select(c => c.Operation), result.Notes);
        var http = new CatalogDocument.HttpToolEntry { BaseUrl = baseUrl.TrimEnd('/'), Secret = security.Secret };
        var catalog = new CatalogDocument { Tool = request.Tool, Description = ToolDescription(document), Http = http };
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var operation in chosen)
        {
            var (entry, reason) = Translate(operation, security, baseUri!, names);
            if (entry is not null)
            {
                // Loaded back on its own, so one operation the catalog refuses is skipped with the
                // loader's reason instead of failing the whole file.
                var probe = new CatalogDocument { Tool = catalog.Tool, Http = http, Operations = [entry] };
                var (_, errors) = CatalogLoader.Parse(CatalogWriter.Write(probe), "import", catalog.Tool);
                if (errors.Count > 0)
                    reason = "the catalog refuses it: " + string.Join("; ", errors.Select(WithoutLocation));
            }
            if (entry is null || reason is not null)
            {
                result.Skipped.Add(new(operation.Source, operation.Method, operation.Path, reason!));
                continue;
            }
            names.Add(entry.Name);
            catalog.Operations.Add(entry);
            result.Imported.Add(new(entry.Name, operation.Source, operation.Method, operation.Path, entry.Untranslated));
        }

        result.Catalog = catalog;
        if (catalog.Operations.Count == 0)
            return result;
        var yaml = Header(document, request) + CatalogWriter.Write(catalog);
        var (_, fileErrors) = CatalogLoader.Parse(yaml, request.Tool + ".yaml", request.Tool);
        if (fileErrors.Count > 0)
        {
            result.Errors.AddRange(fileErrors.Select(e => "the written catalog does not load: " + e));
            return result;
        }
        result.Yaml = yaml;
        return result;
    }

    static IEnumerable<SpecOperation> Operations(OpenApiDocument document)
    {
        foreach (var (path, item) in document.Paths ?? [])
            foreach (var (method, operation) in item.Operations ?? [])
                yield return new SpecOperation(path, method.Method.ToUpperInvariant(), item, operation);
    }

    static string? ServerUrl(OpenApiDocument document, ImportResult result)
    {
        if (document.Servers is not { Count: > 0 } servers || string.IsNullOrWhiteSpace(servers[0].Url))
        {
            result.Errors.Add("the spec names no server (servers[0].url); pass --base-url.");
            return null;
        }
        var server = servers[0];
        var url = server.Url!;
        foreach (var (name, variable) in server.Variables ?? new Dictionary<string, OpenApiServerVariable>())
            url = url.Replace("{" + name + "}", variable.Default ?? "", StringComparison.Ordinal);
        if (servers.Count > 1)
            result.Notes.Add($"baseUrl is the spec's first server, {url}; it names {servers.Count - 1} other(s). --base-url chooses another.");
        return url;
    }

    static string? ToolDescription(OpenApiDocument document)
    {
        var info = document.Info;
        if (info is null)
            return null;
        var parts = new[] { info.Title?.Trim(), info.Description?.Trim() }.Where(p => !string.IsNullOrEmpty(p)).Distinct().ToList();
        return parts.Count == 0 ? null : Cap(string.Join(": ", parts).ReplaceLineEndings("\n"), 1000);
    }

    static string Header(OpenApiDocument document, ImportRequest request)
    {
        var spec = $"{document.Info?.Title} {document.Info?.Version}".Trim();
        var from = request.SourceName is { } source ? $" from {source}" : "";
        return $"# Imported by `agentbus tools import`{from}{(spec.Length > 0 ? $" ({OneLine(spec)})" : "")}.\n" +
               "# Review before use: capabilities, risk and every `untranslated` note are a reviewer's call.\n";
    }

    static (CatalogDocument.OperationEntry? Entry, string? SkipReason) Translate(SpecOperation spec, Security security,
        Uri baseUri, HashSet<string> takenNames)
    {
        var (path, method, operation) = (spec.Path, spec.Method, spec.Operation);
        if (!Methods.Contains(method))
            return (null, $"method {method} is not one the catalog runs ({string.Join(", ", Methods)})");

        var notes = new List<string>();
        var name = OperationName(spec, takenNames, notes);
        var translator = new SchemaTranslator();
        var properties = new JsonObject();
        var required = new List<string>();
        var pathParameters = new HashSet<string>(StringComparer.Ordinal);
        var query = new List<string>();
        var headerArguments = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

        foreach (var parameter in Parameters(spec.PathItem, operation))
        {
            var reason = AddParameter(parameter, translator, security, properties, required, pathParameters, query, headerArguments, notes);
            if (reason is not null)
                return (null, reason);
        }

        foreach (Match variable in TemplateExpression().Matches(path))
        {
            var variableName = variable.Groups[1].Value;
            if (!pathParameters.Contains(variableName))
                return (null, VariableName().IsMatch(variableName)
                    ? $"path variable {{{variableName}}} is not declared as a path parameter"
                    : $"path variable {{{variableName}}} is not a valid RFC 6570 variable name (letters, digits and '_')");
        }
        var httpPath = path + (query.Count > 0 ? "{?" + string.Join(",", query) + "}" : "");
        if (OperationUrlTemplate.Parse(baseUri, httpPath, out var templateProblem) is null)
            return (null, $"http.{templateProblem}");

        var http = new CatalogDocument.HttpOperationEntry { Method = method, Path = httpPath, HeaderArguments = headerArguments };
        var bodyProblem = AddBody(operation, method, translator, properties, required, http, notes);
        if (bodyProblem is not null)
            return (null, bodyProblem);
        http.ExternalReference = ExternalReference(operation);

        var arguments = new JsonObject { ["type"] = "object", ["properties"] = properties };
        if (required.Count > 0)
            arguments["required"] = new JsonArray(required.Distinct().Select(r => (JsonNode?)r).ToArray());
        arguments["additionalProperties"] = false;

        var readOnly = method is "GET" or "HEAD";
        if (!readOnly)
            notes.Add(CapabilitiesGuessed);
        security.Check(operation, notes);
        if (operation.Deprecated)
            notes.Add("the spec marks the operation deprecated");
        if ((operation.Servers ?? spec.PathItem.Servers) is { Count: > 0 } servers)
            notes.Add($"the spec sends this operation to {servers[0].Url}; the catalog sends it to the tool's baseUrl");
        notes.AddRange(translator.Notes);

        return (new CatalogDocument.OperationEntry
        {
            Name = name,
            Description = Description(operation, method, path, notes),
            Capabilities = [readOnly ? "read" : method == "DELETE" ? "data.delete" : "message.send"],
            Risk = readOnly ? "low" : "medium",
            ReadOnly = readOnly,
            Idempotent = readOnly,
            Arguments = arguments,
            Http = http,
            Untranslated = notes.Distinct().ToList(),
        }, null);
    }

    /// <summary>The path item's parameters, overridden by the operation's of the same name and place.</summary>
    static IEnumerable<IOpenApiParameter> Parameters(IOpenApiPathItem item, OpenApiOperation operation)
    {
        var own = operation.Parameters ?? [];
        var shared = (item.Parameters ?? []).Where(p => !own.Any(o => o.Name == p.Name && o.In == p.In));
        return shared.Concat(own);
    }

    /// <returns>Why the whole operation is skipped, or null.</returns>
    static string? AddParameter(IOpenApiParameter parameter, SchemaTranslator translator, Security security, JsonObject properties,
        List<string> required, HashSet<string> pathParameters, List<string> query, Dictionary<string, string> headerArguments, List<string> notes)
    {
        var name = parameter.Name ?? "";
        var place = parameter.In;
        var mustHave = parameter.Required || place == ParameterLocation.Path;
        var what = $"{Place(place)} parameter '{name}'";

        // A parameter the operation cannot do without skips it; an optional one is left out and named.
        string? Drop(string why)
        {
            if (mustHave)
                return $"{what}{(place == ParameterLocation.Path ? "" : " (required)")}: {why}";
            notes.Add($"{what} left out: {why}");
            return null;
        }

        if (place is not (ParameterLocation.Path or ParameterLocation.Query or ParameterLocation.Header))
            return Drop(place == ParameterLocation.Cookie ? "the catalog sends no cookies" : "the catalog cannot place it");
        if (parameter.Schema is null)
            return Drop("it is described by a media type (content), not a schema");
        var (defaultStyle, defaultExplode) = place == ParameterLocation.Query ? (ParameterStyle.Form, true) : (ParameterStyle.Simple, false);
        if ((parameter.Style ?? defaultStyle) != defaultStyle || parameter.Explode != defaultExplode)
            return Drop($"style {Display(parameter.Style ?? defaultStyle)} with explode {(parameter.Explode ? "true" : "false")} cannot be written as " +
                        (place == ParameterLocation.Query ? "{?name}" : "{name}"));

        string argument;
        if (place == ParameterLocation.Header)
        {
            if (security.Secret is { } secret && string.Equals(name, secret.Header, StringComparison.OrdinalIgnoreCase))
            {
                notes.Add($"{what} left out: the tool's secret goes in that header");
                return null;
            }
            if (CatalogLoader.ReservedHeaders.Contains(name, StringComparer.OrdinalIgnoreCase))
                return Drop("the executor sets that header itself");
            if (!HeaderName().IsMatch(name))
                return Drop("it is not a valid header name");
            argument = HeaderArgumentName(name);
        }
        else
        {
            if (!VariableName().IsMatch(name))
                return Drop("the name is not a valid RFC 6570 variable name (letters, digits and '_')");
            argument = name;
        }
        if (properties.ContainsKey(argument))
            return Drop($"another parameter already takes the argument name '{argument}'");

        var schema = translator.Translate(parameter.Schema, what);
        var types = Types(schema);
        if (types.Contains("object"))
            return Drop("an object cannot be written into a " + (place == ParameterLocation.Header ? "header" : "URL") + " by the catalog");
        if (types.Contains("array"))
        {
            if (place != ParameterLocation.Query)
                return Drop("a list cannot be written into a " + (place == ParameterLocation.Header ? "header" : "path segment") + " by the catalog");
            notes.Add($"{what} is a list: sent comma-separated ({name}=a,b), not repeated ({name}=a&{name}=b) as OpenAPI's default explode means: review");
        }
        if (parameter.AllowReserved)
            notes.Add($"{what} allows reserved characters; the catalog percent-encodes them");
        if (place == ParameterLocation.Path && parameter.Extensions?.ContainsKey("x-multi-segment") == true)
            notes.Add($"{what} may span several path segments (x-multi-segment); the catalog refuses a value with '/'");
        if (parameter.Description is { Length: > 0 } description)
            schema["description"] = description.Trim();
        if (parameter.Deprecated)
            schema["deprecated"] = true;

        properties[argument] = schema;
        if (mustHave)
            required.Add(argument);
        switch (place)
        {
            case ParameterLocation.Path:
                pathParameters.Add(name);
                break;
            case ParameterLocation.Query:
                query.Add(name);
                break;
            default:
                headerArguments[name] = argument;
                break;
        }
        return null;
    }

    /// <returns>Why the whole operation is skipped, or null.</returns>
    static string? AddBody(OpenApiOperation operation, string method, SchemaTranslator translator, JsonObject properties, List<string> required,
        CatalogDocument.HttpOperationEntry http, List<string> notes)
    {
        if (operation.RequestBody is not { Content.Count: > 0 } body)
        {
            // Said outright: POST, PUT and PATCH default to a JSON body of the arguments left over.
            if (method is "POST" or "PUT" or "PATCH")
                http.Body = "none";
            return null;
        }
        var offered = string.Join(", ", body.Content.Keys);
        if (method is "GET" or "HEAD")
        {
            notes.Add($"the spec gives a {method} request a body ({offered}); it is not sent");
            return null;
        }
        var (mediaType, media, kind) = ChooseMediaType(body.Content);
        if (media is null)
        {
            notes.Add($"request body as {offered} is not translated (only JSON and form bodies are): no body is sent" +
                      (body.Required ? ", though the spec requires one" : ""));
            if (method is "POST" or "PUT" or "PATCH")
                http.Body = "none";
            return null;
        }

        http.Body = kind;
        JsonObject schema;
        if (media.Schema is { } declared)
            schema = translator.Translate(declared, "body");
        else
        {
            schema = [];
            notes.Add($"the {mediaType} body has no schema: any value is accepted");
        }
        if (body.Description is { Length: > 0 } description && !schema.ContainsKey("description"))
            schema["description"] = description.Trim();

        if (Flattenable(schema, properties))
        {
            foreach (var (property, propertySchema) in (JsonObject)schema["properties"]!)
                properties[property] = propertySchema?.DeepClone();
            if (body.Required && schema["required"] is JsonArray names)
                required.AddRange(names.Select(n => n!.GetValue<string>()));
            return null;
        }

        var argument = new[] { "body", "request_body" }.FirstOrDefault(candidate => !properties.ContainsKey(candidate));
        if (argument is null)
            return "parameters named 'body' and 'request_body' leave no argument name for the request body";
        properties[argument] = schema;
        if (body.Required)
            required.Add(argument);
        http.BodyArgument = argument;
        return null;
    }

    /// <summary>JSON first (application/json, then any +json), then a form; anything else is not translated.</summary>
    static (string MediaType, IOpenApiMediaType? Media, string Kind) ChooseMediaType(IDictionary<string, IOpenApiMediaType> content)
    {
        static string Bare(string mediaType) => mediaType.Split(';')[0].Trim().ToLowerInvariant();
        foreach (var (mediaType, media) in content)
            if (Bare(mediaType) == "application/json")
                return (mediaType, media, "json");
        foreach (var (mediaType, media) in content)
            if (Bare(mediaType).EndsWith("+json", StringComparison.Ordinal))
                return (mediaType, media, "json");
        foreach (var (mediaType, media) in content)
            if (Bare(mediaType) == "application/x-www-form-urlencoded")
                return (mediaType, media, "form");
        return ("", null, "");
    }

    static readonly HashSet<string> FlattenableKeywords = ["type", "properties", "required", "title", "description", "additionalProperties"];

    /// <summary>
    /// A plain object body whose properties can stand beside the parameters: nothing at its top but
    /// properties and required (and additionalProperties: false, which the arguments have anyway).
    /// </summary>
    static bool Flattenable(JsonObject schema, JsonObject parameters) =>
        schema["properties"] is JsonObject { Count: > 0 } bodyProperties
        && (schema["type"] is null || Types(schema) is ["object"])
        && schema.All(keyword => FlattenableKeywords.Contains(keyword.Key))
        && schema["additionalProperties"] is null or JsonValue
        && !bodyProperties.Any(p => parameters.ContainsKey(p.Key));

    static string[] Types(JsonObject schema) => schema["type"] switch
    {
        JsonValue single => [single.GetValue<string>()],
        JsonArray several => several.Select(t => t!.GetValue<string>()).Where(t => t != "null").ToArray(),
        _ => [],
    };

    /// <summary>/id when the success response has a top-level id, else its first string property named *Id.</summary>
    static string? ExternalReference(OpenApiOperation operation)
    {
        var success = (operation.Responses ?? [])
            .Where(r => r.Key.StartsWith('2'))
            .OrderBy(r => r.Key, StringComparer.Ordinal)
            .Select(r => r.Value.Content)
            .FirstOrDefault(c => c is { Count: > 0 });
        var schema = success?.FirstOrDefault(c => c.Key.Split(';')[0].Trim() is var m && (m == "application/json" || m.EndsWith("+json", StringComparison.Ordinal))).Value?.Schema;
        if (schema is null)
            return null;
        var properties = TopLevelProperties(schema, 0);
        if (properties.Any(p => p.Name == "id"))
            return "/id";
        var named = properties.FirstOrDefault(p => p.Name.EndsWith("Id", StringComparison.Ordinal) && p.Schema.Type is { } t && t.HasFlag(JsonSchemaType.String));
        return named.Name is null ? null : "/" + named.Name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);
    }

    static List<(string Name, IOpenApiSchema Schema)> TopLevelProperties(IOpenApiSchema schema, int depth)
    {
        var found = new List<(string, IOpenApiSchema)>();
        if (depth > 4)
            return found;
        foreach (var (name, property) in schema.Properties ?? new Dictionary<string, IOpenApiSchema>())
            found.Add((name, property));
        foreach (var member in schema.AllOf ?? [])
            found.AddRange(TopLevelProperties(member, depth + 1));
        return found;
    }

    static string Description(OpenApiOperation operation, string method, string path, List<string> notes)
    {
        var parts = new[] { operation.Summary?.Trim(), operation.Description?.Trim() }
            .Where(p => !string.IsNullOrEmpty(p)).Distinct().ToList();
        if (parts.Count == 0)
        {
            notes.Add("the spec gives no summary or description: write one for the model that will choose this operation");
            return $"{method} {path}";
        }
        var text = string.Join("\n\n", parts).ReplaceLineEndings("\n");
        if (text.Length > MaxDescriptionLength)
            notes.Add($"description cut to {MaxDescriptionLength} characters");
        return Cap(text, MaxDescriptionLength);
    }

    static string Cap(string text, int max)
    {
        if (text.Length <= max)
            return text;
        var cut = max - 1;
        if (char.IsHighSurrogate(text[cut - 1]))
            cut--;
        return text[..cut].TrimEnd() + "…";
    }

    static string OneLine(string text) => text.ReplaceLineEndings(" ");

    /// <summary>snake_case of the operationId (issues/create → issues_create), made unique with _2, _3…</summary>
    static string OperationName(SpecOperation spec, HashSet<string> taken, List<string> notes)
    {
        var source = spec.Operation.OperationId;
        if (string.IsNullOrWhiteSpace(source))
        {
            source = spec.Method.ToLowerInvariant() + "_" + spec.Path;
            notes.Add("the spec gives no operationId: named from the method and path");
        }
        var name = SnakeCase(source);
        if (!taken.Contains(name))
            return name;
        for (var n = 2; ; n++)
        {
            var suffix = "_" + n;
            var candidate = name[..Math.Min(name.Length, 64 - suffix.Length)] + suffix;
            if (taken.Contains(candidate))
                continue;
            notes.Add($"named {candidate}: {name} was taken by another operation");
            return candidate;
        }
    }

    public static string SnakeCase(string text)
    {
        var result = new StringBuilder();
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsAsciiLetterUpper(c))
            {
                var previous = i > 0 ? text[i - 1] : '\0';
                var next = i + 1 < text.Length ? text[i + 1] : '\0';
                // getIssue → get_issue; HTTPResponse → http_response
                if (char.IsAsciiLetterLower(previous) || char.IsAsciiDigit(previous) || (char.IsAsciiLetterUpper(previous) && char.IsAsciiLetterLower(next)))
                    result.Append('_');
                result.Append(char.ToLowerInvariant(c));
            }
            else if (char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c))
                result.Append(c);
            else
                result.Append('_');
        }
        var name = UnderscoreRun().Replace(result.ToString(), "_").Trim('_');
        if (name.Length > 64)
            name = name[..64].TrimEnd('_');
        return name.Length == 0 ? "operation" : name;
    }

    /// <summary>X-Request-Id → x_request_id.</summary>
    static string HeaderArgumentName(string header) => SnakeCase(header.ToLowerInvariant());

    static string Place(ParameterLocation? place) => place switch
    {
        ParameterLocation.Path => "path",
        ParameterLocation.Query => "query",
        ParameterLocation.Header => "header",
        ParameterLocation.Cookie => "cookie",
        ParameterLocation.QueryString => "querystring",
        _ => "unplaced",
    };

    static string Display(ParameterStyle style) => style switch
    {
        ParameterStyle.Matrix => "matrix",
        ParameterStyle.Label => "label",
        ParameterStyle.Form => "form",
        ParameterStyle.Simple => "simple",
        ParameterStyle.SpaceDelimited => "spaceDelimited",
        ParameterStyle.PipeDelimited => "pipeDelimited",
        ParameterStyle.DeepObject => "deepObject",
        _ => style.ToString(),
    };

    static string WithoutLocation(string error) => LoaderLocation().Replace(error, "");

    [GeneratedRegex(@"\{([^{}]*)\}")]
    private static partial Regex TemplateExpression();

    [GeneratedRegex("^[A-Za-z0-9_]{1,64}$")]
    private static partial Regex VariableName();

    [GeneratedRegex(@"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}\z")]
    private static partial Regex HeaderName();

    [GeneratedRegex("_+")]
    private static partial Regex UnderscoreRun();

    [GeneratedRegex(@"^[^:]*:(\d+:)? ")]
    private static partial Regex LoaderLocation();
}
