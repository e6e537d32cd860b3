using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using AgentBus.Catalog.Http;
using AgentBus.Catalog.Schemas;
using AgentBus.Catalog.Yaml;
using AgentBus.DataBoundaries;
using YamlDotNet.Core;
using YamlDotNet.Serialization;

namespace AgentBus.Catalog;

public sealed record CatalogLoadResult(ToolCatalog? Catalog, IReadOnlyList<string> Errors)
{
    public bool Succeeded => Catalog is not null;
}

/// <summary>
/// Reads a catalog folder (one TOOL.yaml per tool) and checks every entry: names, descriptions,
/// capabilities, argument schemas that compile, URL templates whose host is fixed and whose every
/// variable is an argument. Every problem is "file:line: what is wrong", all at once, and a folder
/// with any problem yields no catalog, so the last good one stays in force.
/// </summary>
public static partial class CatalogLoader
{
    public const string ToolNamePattern = @"^[a-z0-9][a-z0-9._-]{0,63}\z";

    /// <summary>No dots: "payments.refund" splits into tool and operation at its last dot.</summary>
    public const string OperationNamePattern = @"^[a-z0-9][a-z0-9_-]{0,63}\z";

    public const int MaxDescriptionLength = 4000;
    static readonly string[] Methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

    /// <summary>Headers the executor sets itself; a catalog that sets them could forge or break them.</summary>
    public static readonly IReadOnlyList<string> ReservedHeaders =
        ["Host", "Content-Length", "Content-Type", "Transfer-Encoding", "Connection", "Idempotency-Key", "X-AgentBus-Run-Id", "X-AgentBus-Action-Id"];

    static readonly IDeserializer Yaml = YamlReading.Deserializer();

    /// <summary>The catalog files of a folder: *.yaml and *.yml, in name order.</summary>
    public static IReadOnlyList<string> FilesIn(string directory) =>
        Directory.EnumerateFiles(directory, "*.yaml").Concat(Directory.EnumerateFiles(directory, "*.yml"))
            .Order(StringComparer.Ordinal).ToList();

    public static CatalogLoadResult LoadDirectory(string directory)
    {
        IReadOnlyList<string> files;
        try
        {
            files = FilesIn(directory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new(null, [$"{directory}: cannot read the catalog folder: {ex.Message}"]);
        }
        return LoadFiles(files);
    }

    public static CatalogLoadResult LoadFiles(IEnumerable<string> files)
    {
        var errors = new List<string>();
        var tools = new Dictionary<string, CatalogTool>(StringComparer.Ordinal);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in files)
        {
            byte[] bytes;
            try
            {
                bytes = File.ReadAllBytes(file);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                errors.Add($"{file}: cannot read the catalog file: {ex.Message}");
                continue;
            }
            hash.AppendData(Encoding.UTF8.GetBytes(Path.GetFileName(file) + "\n"));
            hash.AppendData(SHA256.HashData(bytes));

            string text;
            try
            {
                text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
            }
            catch (DecoderFallbackException)
            {
                errors.Add($"{file}: the catalog file is not valid UTF-8.");
                continue;
            }
            var (tool, fileErrors) = Parse(text, file, Path.GetFileNameWithoutExtension(file));
            errors.AddRange(fileErrors);
            if (tool is not null && !tools.TryAdd(tool.Name, tool))
                errors.Add($"{file}:{tool.Line}: tool '{tool.Name}' is also defined in {tools[tool.Name].Source}.");
        }
        if (errors.Count > 0)
            return new(null, errors);
        return new(new ToolCatalog(tools, "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset())[..16]), []);
    }

    /// <param name="expectedTool">The file's name: an executor finds its tool's operations by it.</param>
    /// <param name="baseUrl">Replaces the file's http.baseUrl: where one deployment reaches the system.</param>
    public static (CatalogTool? Tool, IReadOnlyList<string> Errors) Parse(string text, string source, string? expectedTool = null, Uri? baseUrl = null)
    {
        CatalogDocument? document;
        try
        {
            document = Yaml.Deserialize<CatalogDocument>(text);
        }
        catch (YamlException ex)
        {
            return (null, [$"{source}:{ex.Start.Line}: {YamlReading.Describe(ex)}"]);
        }
        if (document is null)
            return (null, [$"{source}: the catalog file is empty."]);
        if (baseUrl is not null && document.Http is { } http)
            http.BaseUrl = baseUrl.AbsoluteUri;
        return new Compiler(source).Compile(document, expectedTool);
    }


    [GeneratedRegex(@"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}\z")]
    private static partial Regex HeaderName();

    sealed class Compiler(string source)
    {
        readonly List<string> _errors = [];

        void Error(IHasLine? at, string message) =>
            _errors.Add(at is { Line: > 0 } ? $"{source}:{at.Line}: {message}" : $"{source}: {message}");

        public (CatalogTool?, IReadOnlyList<string>) Compile(CatalogDocument document, string? expectedTool)
        {
            var name = document.Tool;
            if (string.IsNullOrWhiteSpace(name))
                Error(document, "the catalog file names no tool (tool: NAME).");
            else if (!Regex.IsMatch(name, ToolNamePattern))
                Error(document, $"tool name '{name}' is not valid: 1-64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit.");
            else if (name.EndsWith("_error", StringComparison.Ordinal) || name.EndsWith("_skipped", StringComparison.Ordinal))
                Error(document, $"tool name '{name}' ends in '_error' or '_skipped', which name dead-letter queues: its executor would be granted another tool's dead letters.");
            else if (expectedTool is not null && name != expectedTool)
                Error(document, $"the file is named '{expectedTool}' but defines tool '{name}'; name the file {name}.yaml.");

            var http = document.Http is { } declaredHttp ? CompileHttpTool(name, declaredHttp) : null;
            if (document.Operations.Count == 0)
                Error(document, $"tool '{name}' has no operations.");

            // Every schema first: a compensation is checked against the schema of the operation it calls.
            var schemas = document.Operations.Select(entry => CompileSchema($"{name}.{entry.Name}", entry)).ToList();
            var declared = new Dictionary<string, (CatalogDocument.OperationEntry Entry, ArgumentsSchema Schema)>(StringComparer.Ordinal);
            for (var i = 0; i < schemas.Count; i++)
                declared.TryAdd(document.Operations[i].Name ?? "", (document.Operations[i], schemas[i]));

            var operations = new Dictionary<string, CatalogOperation>(StringComparer.Ordinal);
            for (var i = 0; i < schemas.Count; i++)
            {
                var entry = document.Operations[i];
                if (CompileOperation(name, entry, http, schemas[i], declared) is not { } operation)
                    continue;
                if (!operations.TryAdd(operation.Name, operation))
                    Error(entry, $"operation '{name}.{entry.Name}' is defined twice.");
            }

            if (_errors.Count > 0)
                return (null, _errors);
            return (new CatalogTool
            {
                Name = name,
                Description = document.Description,
                Operations = operations,
                Http = http,
                Source = source,
                Line = document.Line,
            }, []);
        }

        HttpTool? CompileHttpTool(string tool, CatalogDocument.HttpToolEntry entry)
        {
            if (!OperationUrlTemplate.TryParseBase(entry.BaseUrl, out var baseUrl, out var problem))
            {
                Error(entry, $"tool '{tool}': http.{problem}");
                return null;
            }
            var secret = entry.Secret ?? new CatalogDocument.SecretEntry();
            CheckHeaders(entry, entry.Headers, $"tool '{tool}': http.headers");
            if (!HeaderName().IsMatch(secret.Header) || IsReserved(secret.Header))
                Error(secret, $"tool '{tool}': http.secret.header '{secret.Header}' is not a header name the secret may use.");
            if (secret.Prefix.Any(char.IsControl))
                Error(secret, $"tool '{tool}': http.secret.prefix contains a control character.");
            if (entry.Headers.Keys.Any(h => string.Equals(h, secret.Header, StringComparison.OrdinalIgnoreCase)))
                Error(entry, $"tool '{tool}': http.headers sets '{secret.Header}', which carries the secret.");
            return new HttpTool(baseUrl!, entry.Headers, secret.Header, secret.Prefix);
        }

        void CheckHeaders(IHasLine at, Dictionary<string, string> headers, string what)
        {
            foreach (var (header, value) in headers)
            {
                if (!HeaderName().IsMatch(header))
                    Error(at, $"{what}: '{header}' is not a valid header name.");
                else if (IsReserved(header))
                    Error(at, $"{what}: '{header}' is set by the executor and may not be fixed here.");
                if (value is null || value.Any(char.IsControl))
                    Error(at, $"{what}: the value of '{header}' is missing or contains a control character.");
            }
        }

        static bool IsReserved(string header) => ReservedHeaders.Contains(header, StringComparer.OrdinalIgnoreCase);

        CatalogOperation? CompileOperation(string tool, CatalogDocument.OperationEntry entry, HttpTool? httpTool, ArgumentsSchema arguments,
            IReadOnlyDictionary<string, (CatalogDocument.OperationEntry Entry, ArgumentsSchema Schema)> operations)
        {
            var before = _errors.Count;
            var fullName = $"{tool}.{entry.Name}";
            if (!Regex.IsMatch(entry.Name ?? "", OperationNamePattern))
                Error(entry, $"operation name '{entry.Name}' is not valid: 1-64 lowercase letters, digits, '_' or '-' (no dots), starting with a letter or digit.");
            if (string.IsNullOrWhiteSpace(entry.Description))
                Error(entry, $"operation '{fullName}' has no description; write one for the model that will choose it.");
            else if (entry.Description.Length > MaxDescriptionLength)
                Error(entry, $"operation '{fullName}': the description is longer than {MaxDescriptionLength} characters.");
            if (entry.Capabilities.Count == 0)
                Error(entry, $"operation '{fullName}' declares no capabilities; name what it can do ({string.Join(", ", Capabilities.Known)}).");
            foreach (var capability in entry.Capabilities)
                if (!Capabilities.Known.Contains(capability))
                    Error(entry, $"operation '{fullName}' declares unknown capability '{capability}'; known: {string.Join(", ", Capabilities.Known)}.");
            var risk = entry.Risk ?? "medium";
            if (!Capabilities.RiskLevels.Contains(risk))
                Error(entry, $"operation '{fullName}' has risk '{risk}'; use one of {string.Join(", ", Capabilities.RiskLevels)}.");
            if (entry.UnitCostUsd < 0)
                Error(entry, $"operation '{fullName}' has a negative unitCostUsd.");

            var (schema, properties, required, _) = arguments;
            HttpOperation? http = null;
            if (entry.Http is not { } declared)
                Error(entry, $"operation '{fullName}' does not say how it runs (http: method and path).");
            else if (httpTool is null)
                Error(declared, $"operation '{fullName}' runs over HTTP, but tool '{tool}' has no http.baseUrl.");
            else
                http = CompileHttp(fullName, entry, declared, httpTool, properties, required);
            var compensation = CompileCompensation(tool, entry, arguments, operations);
            foreach (var problem in DataBoundary.Problems(entry.Accepts, entry.Max))
                Error(entry, $"operation '{fullName}': {problem}");

            if (_errors.Count > before || schema is null)
                return null;
            return new CatalogOperation
            {
                Tool = tool,
                Name = entry.Name!,
                Description = entry.Description.Trim(),
                Capabilities = entry.Capabilities.Distinct(StringComparer.Ordinal).ToArray(),
                Risk = risk,
                ReadOnly = entry.ReadOnly,
                Idempotent = entry.Idempotent || entry.ReadOnly,
                UnitCostUsd = entry.UnitCostUsd,
                ArgumentSchema = schema,
                ArgumentSchemaJson = entry.Arguments!,
                Http = http,
                Compensation = compensation,
                Irreversible = entry.Irreversible,
                IrreversibleReason = entry.IrreversibleReason?.Trim(),
                DataBoundary = entry.Accepts is null && entry.Max is null
                    ? DataBoundary.Closed
                    : new DataBoundary(entry.Accepts ?? [], entry.Max ?? new Dictionary<string, int>()),
                Untranslated = entry.Untranslated,
                Source = source,
                Line = entry.Line,
            };
        }

        ArgumentsSchema CompileSchema(string fullName, CatalogDocument.OperationEntry entry)
        {
            var properties = new HashSet<string>(StringComparer.Ordinal);
            var required = new HashSet<string>(StringComparer.Ordinal);
            if (entry.Arguments is not JsonObject schemaJson)
            {
                Error(entry, $"operation '{fullName}' has no arguments schema (a JSON Schema with type: object).");
                return new(null, properties, required, false);
            }
            var closed = schemaJson["additionalProperties"]?.GetValueKind() == JsonValueKind.False;
            if (schemaJson["type"]?.GetValueKind() != JsonValueKind.String || schemaJson["type"]!.GetValue<string>() != "object")
                Error(entry, $"operation '{fullName}': the arguments schema must have type: object.");
            if (schemaJson["properties"] is JsonObject declared)
                foreach (var (property, _) in declared)
                    properties.Add(property);
            if (schemaJson["required"] is JsonArray names)
                foreach (var name in names)
                    if (name?.GetValueKind() == JsonValueKind.String)
                        required.Add(name.GetValue<string>());
            try
            {
                var schema = ArgumentSchemas.Build(schemaJson, new Uri($"https://agentbus.invalid/catalog/{Uri.EscapeDataString(fullName)}/arguments"));
                return new(schema, properties, required, closed);
            }
            catch (Exception ex) when (ArgumentSchemas.IsBuildError(ex))
            {
                Error(entry, $"operation '{fullName}': the arguments schema is not a valid JSON Schema: {ex.Message}");
                return new(null, properties, required, closed);
            }
        }

        /// <summary>
        /// The compensation as declared, checked so that only the original call's result can make it fail later:
        /// an operation of the same tool that changes something, pointers that can name something, every
        /// required argument given, no argument it does not take, constants that fit its schema.
        /// </summary>
        Compensation? CompileCompensation(string tool, CatalogDocument.OperationEntry entry, ArgumentsSchema own,
            IReadOnlyDictionary<string, (CatalogDocument.OperationEntry Entry, ArgumentsSchema Schema)> operations)
        {
            var fullName = $"{tool}.{entry.Name}";
            if (entry.IrreversibleReason is not null && !entry.Irreversible)
                Error(entry, $"operation '{fullName}' gives an irreversibleReason but does not say irreversible: true.");
            if (entry.Irreversible && entry.ReadOnly)
                Error(entry, $"operation '{fullName}' is readOnly, so it changes nothing and cannot be irreversible; remove irreversible.");
            if (entry.Compensation is not { } declared)
                return null;
            if (entry.Irreversible)
            {
                Error(declared, $"operation '{fullName}' declares both a compensation and irreversible: true; it is one or the other.");
                return null;
            }
            if (entry.ReadOnly)
            {
                Error(declared, $"operation '{fullName}' is readOnly: it changes nothing, so there is nothing to undo; remove the compensation.");
                return null;
            }
            if (!operations.TryGetValue(declared.Operation ?? "", out var target))
            {
                Error(declared, $"operation '{fullName}': compensation.operation '{declared.Operation}' is not an operation of tool '{tool}' " +
                                $"(name one of {string.Join(", ", operations.Keys)}, without the tool).");
                return null;
            }
            var targetName = $"{tool}.{declared.Operation}";
            if (target.Entry.ReadOnly)
            {
                Error(declared, $"operation '{fullName}': compensation.operation '{targetName}' is readOnly, so it cannot undo anything.");
                return null;
            }
            if (target.Schema.Schema is not { } targetSchema)
                return null; // its own errors say why
            if (declared.Arguments is not (null or JsonObject))
            {
                Error(declared, $"operation '{fullName}': compensation.arguments must map each argument of {targetName} to a JSON Pointer or {{value: CONSTANT}}.");
                return null;
            }

            var before = _errors.Count;
            var arguments = new List<CompensationArgument>();
            foreach (var (name, source) in declared.Arguments as JsonObject ?? [])
            {
                var what = $"operation '{fullName}': compensation.arguments.{name}";
                if (target.Schema.Closed && !target.Schema.Properties.Contains(name))
                {
                    Error(declared, $"{what}: {targetName} takes no argument '{name}' (not in its schema's properties, and additionalProperties is false).");
                    continue;
                }
                switch (source)
                {
                    case JsonValue pointer when pointer.GetValueKind() == JsonValueKind.String:
                        if (CheckPointer(what, declared, pointer.GetValue<string>(), fullName, own))
                            arguments.Add(new(name, pointer.GetValue<string>(), null));
                        break;
                    case JsonObject { Count: 1 } constant when constant.ContainsKey("value"):
                        var value = JsonSerializer.SerializeToElement(constant["value"]);
                        var instance = JsonSerializer.SerializeToElement(new JsonObject { [name] = constant["value"]?.DeepClone() });
                        var problems = ArgumentSchemas.ErrorsUnder(targetSchema, instance, "/" + JsonPointers.Escape(name));
                        if (problems.Count > 0)
                            Error(declared, $"{what}: the constant {value.GetRawText()} does not fit {targetName}'s schema: {string.Join("; ", problems)}.");
                        else
                            arguments.Add(new(name, null, value));
                        break;
                    default:
                        Error(declared, $"{what} must be a JSON Pointer (/arguments/… or /result/…) or a constant {{value: …}}.");
                        break;
                }
            }
            var given = (declared.Arguments as JsonObject ?? []).Select(a => a.Key).ToHashSet(StringComparer.Ordinal);
            foreach (var required in target.Schema.Required.Order(StringComparer.Ordinal))
                if (!given.Contains(required))
                    Error(declared, $"operation '{fullName}': the compensation gives no value for '{required}', which {targetName} requires.");

            if (_errors.Count > before)
                return null;
            return new Compensation { Tool = tool, Operation = declared.Operation!, Arguments = arguments, ArgumentSchema = targetSchema };
        }

        /// <summary>A pointer into {"arguments", "result"}; into the arguments only by a name the original operation declares.</summary>
        bool CheckPointer(string what, IHasLine at, string pointer, string fullName, ArgumentsSchema own)
        {
            var tokens = JsonPointers.Parse(pointer);
            if (tokens is not { Count: > 0 } || tokens[0] is not (CompensationArgument.ArgumentsRoot or CompensationArgument.ResultRoot))
            {
                Error(at, $"{what}: '{pointer}' is not a JSON Pointer starting with /arguments or /result.");
                return false;
            }
            if (tokens[0] == CompensationArgument.ArgumentsRoot && tokens.Count > 1 && !own.Properties.Contains(tokens[1]))
            {
                Error(at, $"{what}: {pointer} names argument '{tokens[1]}', which {fullName} does not declare.");
                return false;
            }
            return true;
        }

        HttpOperation? CompileHttp(string fullName, CatalogDocument.OperationEntry operation, CatalogDocument.HttpOperationEntry entry,
            HttpTool tool, HashSet<string> properties, HashSet<string> required)
        {
            var method = entry.Method.ToUpperInvariant();
            if (!Methods.Contains(method))
                Error(entry, $"operation '{fullName}': http.method '{entry.Method}' is not one of {string.Join(", ", Methods)}.");
            if (operation.ReadOnly && method is not ("GET" or "HEAD"))
                Error(entry, $"operation '{fullName}' is readOnly, so its method must be GET or HEAD, not {method}.");

            var template = OperationUrlTemplate.Parse(tool.BaseUrl, entry.Path, out var problem);
            if (template is null)
                Error(entry, $"operation '{fullName}': http.{problem}");
            else
            {
                foreach (var variable in template.Variables)
                    if (!properties.Contains(variable))
                        Error(entry, $"operation '{fullName}': http.path uses {{{variable}}}, which is not an argument (not in the schema's properties).");
                foreach (var variable in template.PathVariables)
                    if (properties.Contains(variable) && !required.Contains(variable))
                        Error(entry, $"operation '{fullName}': path variable '{variable}' must be required in the arguments schema (an empty segment would change the path).");
            }

            var body = (entry.Body ?? (method is "GET" or "HEAD" or "DELETE" ? "none" : "json")) switch
            {
                "none" => BodyKind.None,
                "json" => BodyKind.Json,
                "form" => BodyKind.Form,
                var other => Fail(entry, $"operation '{fullName}': http.body '{other}' is not one of none, json, form."),
            };
            if (body != BodyKind.None && method is "GET" or "HEAD")
                Error(entry, $"operation '{fullName}': a {method} request has no body; remove http.body.");

            CheckHeaders(entry, entry.Headers, $"operation '{fullName}': http.headers");
            var headerArguments = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var (header, argument) in entry.HeaderArguments)
            {
                if (!HeaderName().IsMatch(header) || IsReserved(header) || string.Equals(header, tool.SecretHeader, StringComparison.OrdinalIgnoreCase))
                    Error(entry, $"operation '{fullName}': http.headerArguments: '{header}' is not a header an argument may set.");
                if (!properties.Contains(argument))
                    Error(entry, $"operation '{fullName}': http.headerArguments names '{argument}', which is not an argument.");
                headerArguments[header] = argument;
            }

            var placed = new HashSet<string>(template?.Variables ?? [], StringComparer.Ordinal);
            placed.UnionWith(headerArguments.Values);
            if (entry.BodyArgument is { } bodyArgument)
            {
                if (!properties.Contains(bodyArgument))
                    Error(entry, $"operation '{fullName}': http.bodyArgument '{bodyArgument}' is not an argument.");
                else if (placed.Contains(bodyArgument))
                    Error(entry, $"operation '{fullName}': http.bodyArgument '{bodyArgument}' is already used by the path or a header.");
                if (body == BodyKind.None)
                    Error(entry, $"operation '{fullName}': http.bodyArgument is set, but the request has no body.");
            }

            if (entry.ExternalReference is { } pointer && pointer.Length > 0 && pointer[0] != '/')
                Error(entry, $"operation '{fullName}': http.externalReference '{pointer}' must be a JSON Pointer such as /id.");
            TimeSpan? timeout = null;
            if (entry.Timeout is { } text)
            {
                if (!Durations.TryParse(text, out var parsed) || parsed < TimeSpan.FromMilliseconds(10) || parsed > TimeSpan.FromMinutes(5))
                    Error(entry, $"operation '{fullName}': http.timeout '{text}' must be a duration between 10ms and 5m, such as 10s.");
                timeout = parsed;
            }
            if (entry.Retries is < 0 or > 10)
                Error(entry, $"operation '{fullName}': http.retries must be between 0 and 10.");

            if (template is null)
                return null;
            return new HttpOperation
            {
                Method = method,
                Url = template,
                Body = body,
                BodyArgument = entry.BodyArgument,
                Headers = entry.Headers,
                HeaderArguments = headerArguments,
                ExternalReference = string.IsNullOrEmpty(entry.ExternalReference) ? null : entry.ExternalReference,
                Timeout = timeout,
                Retries = entry.Retries,
                PlacedArguments = placed,
            };
        }

        /// <summary>An operation's argument schema with what the other checks need of it; Schema is null when it does not compile.</summary>
        sealed record ArgumentsSchema(Json.Schema.JsonSchema? Schema, HashSet<string> Properties, HashSet<string> Required, bool Closed);

        BodyKind Fail(IHasLine at, string message)
        {
            Error(at, message);
            return BodyKind.None;
        }
    }
}
