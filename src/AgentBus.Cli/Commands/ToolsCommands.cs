using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using AgentBus.Catalog;
using AgentBus.Catalog.Yaml;
using AgentBus.Cli.OpenApi;
using AgentBus.Policy.Engine;
using Spectre.Console;

namespace AgentBus.Cli.Commands;

/// <summary>
/// `agentbus tools import|list|show` (beside suspend and resume): bring operations of an OpenAPI
/// document into the catalog, and read the catalog as an operator or reviewer would.
/// </summary>
static class ToolsCommands
{
    public const string DefaultCatalog = "ops/catalog";

    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public static Command Create()
    {
        var tools = OperatorCommands.Tools();
        tools.Description = "The operation catalog (import from OpenAPI, list, show) and the tool kill switch (suspend, resume).";
        tools.Add(Import());
        tools.Add(List());
        tools.Add(Show());
        return tools;
    }

    static Command Import()
    {
        var spec = new Argument<string>("SPEC") { Description = "The OpenAPI document: a JSON or YAML file, OpenAPI 3.0 or 3.1" };
        var tool = new Option<string>("--tool") { Description = "The tool's name in the catalog (its file is TOOL.yaml)", Required = true };
        var select = new Option<string>("--select")
        {
            Description = "Comma-separated operationIds and tags: the operations to import (e.g. issues/create,issues/get or a tag)",
            Required = true,
        };
        var baseUrl = new Option<string?>("--base-url") { Description = "The API's base URL (default: the spec's first server, its variables at their defaults)" };
        var output = new Option<string?>("--out") { Description = "Write the catalog file here (a folder: FOLDER/TOOL.yaml); default standard output" };
        var command = new Command("import",
            "Translate chosen operations of an OpenAPI document into a catalog file for review: arguments schema, URL template, body, " +
            "secret header. What cannot be translated is listed per operation, never guessed silently; the summary goes to standard error.")
        {
            spec, tool, select, baseUrl, output,
        };
        command.SetAction((result, ct) => Cli.Run(async () =>
        {
            var started = Stopwatch.StartNew();
            var path = result.GetValue(spec)!;
            if (!File.Exists(path))
                return Fail(Cli.BadInput, $"{path}: no such file.");
            var size = new FileInfo(path).Length;

            var loaded = await OpenApiSpec.LoadAsync(path, ct);
            if (!loaded.Succeeded)
            {
                Cli.Err.MarkupLine($"[red]error:[/] {Markup.Escape(path)} could not be read as OpenAPI; the reader said:");
                foreach (var error in loaded.Errors.Take(20))
                    Cli.Err.MarkupLine($"  {Markup.Escape(error)}");
                if (loaded.Errors.Count > 20)
                    Cli.Err.MarkupLine($"  … and {loaded.Errors.Count - 20} more.");
                return Cli.Failed;
            }
            var readSeconds = started.Elapsed.TotalSeconds;

            var toolName = result.GetValue(tool)!;
            var imported = OpenApiImporter.Import(loaded.Document!, new ImportRequest(toolName, result.GetValue(select)!.Split(','),
                result.GetValue(baseUrl), Path.GetFileName(path)));
            if (imported.Errors.Count > 0)
            {
                foreach (var error in imported.Errors)
                    Cli.Err.MarkupLine($"[red]error:[/] {Markup.Escape(error)}");
                return imported.Catalog is null ? Cli.BadInput : Cli.Failed;
            }

            string? writtenTo = null;
            if (imported.Yaml is { } yaml)
            {
                if (result.GetValue(output) is { Length: > 0 } target)
                {
                    writtenTo = Directory.Exists(target) ? Path.Combine(target, toolName + ".yaml") : target;
                    await File.WriteAllTextAsync(writtenTo, yaml, ct);
                }
                else
                    Cli.Out.Profile.Out.Writer.Write(yaml);
            }
            PrintSummary(imported, loaded, path, size, toolName, writtenTo, readSeconds, started.Elapsed.TotalSeconds);
            return imported.Imported.Count == 0 ? Cli.Failed : Cli.Ok;
        }));
        return command;
    }

    static int Fail(int code, string message)
    {
        Cli.Err.MarkupLine($"[red]error:[/] {Markup.Escape(message)}");
        return code;
    }

    static void PrintSummary(ImportResult result, OpenApiSpec spec, string path, long size, string tool, string? writtenTo,
        double readSeconds, double seconds)
    {
        var err = Cli.Err;
        var selected = result.Imported.Count + result.Skipped.Count;
        err.MarkupLine($"Imported [bold]{result.Imported.Count}[/] of {selected} selected operation(s) from {Markup.Escape(Path.GetFileName(path))} " +
                       $"(OpenAPI {Markup.Escape(spec.Version)}, {Megabytes(size)}) as tool [bold]{Markup.Escape(tool)}[/] " +
                       $"in {Seconds(seconds)} s (reading the spec {Seconds(readSeconds)} s)" +
                       (writtenTo is null ? "." : $": {Markup.Escape(writtenTo)}"));
        if (writtenTo is not null && !string.Equals(Path.GetFileNameWithoutExtension(writtenTo), tool, StringComparison.Ordinal))
            err.MarkupLine($"[yellow]note:[/] the catalog loader reads tool {Markup.Escape(tool)} only from a file named {Markup.Escape(tool)}.yaml.");
        foreach (var operation in result.Imported)
        {
            err.MarkupLine($"  [green]{Markup.Escape(tool)}.{Markup.Escape(operation.Name)}[/]  {operation.Method} {Markup.Escape(operation.Path)}" +
                           (operation.Source == operation.Name ? "" : $"  [grey]({Markup.Escape(operation.Source)})[/]"));
            foreach (var note in operation.Untranslated)
                err.MarkupLine($"      untranslated: {Markup.Escape(note)}");
        }
        if (result.Skipped.Count > 0)
        {
            err.MarkupLine($"Skipped [bold]{result.Skipped.Count}[/]:");
            foreach (var skipped in result.Skipped)
                err.MarkupLine($"  [red]{Markup.Escape(skipped.Source)}[/]  {skipped.Method} {Markup.Escape(skipped.Path)}: {Markup.Escape(skipped.Reason)}");
        }
        foreach (var note in result.Notes)
            err.MarkupLine($"[yellow]note:[/] {Markup.Escape(note)}");
        if (spec.Warnings.Count > 0)
            err.MarkupLine($"[grey]The OpenAPI reader warned {spec.Warnings.Count} time(s), e.g. {Markup.Escape(spec.Warnings[0])}[/]");
        var untranslated = result.Imported.Sum(o => o.Untranslated.Count);
        err.MarkupLine($"{result.Imported.Count} imported, {result.Skipped.Count} skipped, {untranslated} untranslated item(s) to review.");
    }

    static string Seconds(double seconds) => seconds.ToString("0.00", CultureInfo.InvariantCulture);

    static string Megabytes(long bytes) => bytes < 1_000_000
        ? (bytes / 1000.0).ToString("0.0", CultureInfo.InvariantCulture) + " kB"
        : (bytes / 1_000_000.0).ToString("0.0", CultureInfo.InvariantCulture) + " MB";

    static Option<string> CatalogOption() => new("--catalog")
    {
        Description = $"The catalog folder: one TOOL.yaml per tool (default {DefaultCatalog})",
        DefaultValueFactory = _ => DefaultCatalog,
    };

    static Option<bool> AsJson() => new("--json") { Description = "Print JSON instead of text" };

    static Option<string?> PolicyOption() => new("--policy")
    {
        Description = "A policy file: its catalog is shown (instead of --catalog), with the agents its grants let call each operation",
    };

    /// <summary>The catalog to show, and who may call what when a policy is given; null when either does not load.</summary>
    static (ToolCatalog Catalog, OperationAccess? Access, PolicySnapshot? Policy)? Load(ParseResult result, Option<string> catalog, Option<string?> policyFile) =>
        Load(result, catalog, result.GetValue(policyFile));

    static (ToolCatalog Catalog, OperationAccess? Access, PolicySnapshot? Policy)? Load(ParseResult result, Option<string> catalog, string? policyFile)
    {
        if (policyFile is not { } file)
            return LoadCatalog(result.GetValue(catalog)!) is { } loaded ? (loaded, null, null) : null;
        var policy = PolicyCommands.Load(file);
        return (policy.Catalog, operation => Access(policy, operation), policy);
    }

    /// <summary>"support-bot (approval when /amountUsd above 100), intern-bot [suspended]", or "nobody".</summary>
    static string Access(PolicySnapshot policy, CatalogOperation operation)
    {
        var agents = policy.Grants.Values
            .Where(g => g.Tool == operation.Tool && g.Operation?.Name == operation.Name)
            .OrderBy(g => g.Agent, StringComparer.Ordinal)
            .Select(g => g.Agent + (g.Approval is { } approval ? $" (approval when {approval.DescribeCondition()})" : "") +
                         (policy.Agents[g.Agent].Suspended ? " [suspended]" : ""))
            .ToList();
        return agents.Count == 0 ? "nobody" : string.Join(", ", agents);
    }

    /// <summary>The catalog, or null when it does not load (every problem printed).</summary>
    static ToolCatalog? LoadCatalog(string directory)
    {
        if (!Directory.Exists(directory))
        {
            Cli.Error($"The catalog folder {directory} does not exist; --catalog names another.");
            return null;
        }
        var loaded = CatalogLoader.LoadDirectory(directory);
        foreach (var error in loaded.Errors)
            Cli.Error(error);
        return loaded.Catalog;
    }

    static Command List()
    {
        var catalog = CatalogOption();
        var policy = PolicyOption();
        var agent = new Option<string?>("--agent") { Description = "Only the operations this agent may call (needs --policy): what a model acting as it is offered" };
        var json = AsJson();
        var command = new Command("list", "Every operation of the catalog: capabilities, risk, read-only and idempotent, request, arguments, and with --policy who may call it.")
        {
            catalog, policy, agent, json,
        };
        command.SetAction((result, _) => Cli.Run(() =>
        {
            var agentId = result.GetValue(agent);
            // The policy in force ($AGENTBUS_POLICY_FILE, which ops/agentbus sets) answers for an agent when no file is named.
            var policyFile = result.GetValue(policy) ?? (agentId is null ? null : Cli.Env("AGENTBUS_POLICY_FILE"));
            if (agentId is not null && policyFile is null)
                throw new UsageException("--agent needs --policy (or $AGENTBUS_POLICY_FILE): which operations an agent may call is the policy's answer.");
            if (Load(result, catalog, policyFile) is not var (loaded, access, snapshot))
                return Task.FromResult(Cli.Failed);
            if (agentId is not null && !snapshot!.Agents.ContainsKey(agentId))
                throw new UsageException($"The policy has no agent '{agentId}' (it has {string.Join(", ", snapshot.Agents.Keys.Order(StringComparer.Ordinal))}).");
            var views = loaded.Operations
                .Where(o => agentId is null || snapshot!.Grants.ContainsKey((agentId, o.Tool, o.Name)))
                .OrderBy(o => o.FullName, StringComparer.Ordinal)
                // For one agent, what its calls may carry is its grant's: a grant may narrow the operation's.
                .Select(o => OperationView.Of(o, access, agentId is null ? null : snapshot!.Grants[(agentId, o.Tool, o.Name)].DataBoundary)).ToList();
            if (result.GetValue(json))
                Cli.Out.Profile.Out.Writer.WriteLine(JsonSerializer.Serialize(views, Json));
            else
                PrintList(views, loaded, agentId);
            return Task.FromResult(Cli.Ok);
        }));
        return command;
    }

    static void PrintList(IReadOnlyList<OperationView> views, ToolCatalog catalog, string? agent)
    {
        if (views.Count == 0)
        {
            Cli.Out.MarkupLine("The catalog has no operations.");
            return;
        }
        var withAccess = views.Any(v => v.Access is not null);
        var table = new Table().AddColumns("operation", "risk", "capabilities", "read-only", "idempotent", "undone by", "request", "arguments (* required)",
            agent is null ? "accepts" : $"accepts from {Markup.Escape(agent)}", "description");
        if (withAccess)
            table.AddColumn("who may call it");
        foreach (var view in views)
        {
            var row = new List<string>
            {
                Markup.Escape(view.Name), Markup.Escape(view.Risk), Markup.Escape(string.Join(", ", view.Capabilities)), YesNo(view.ReadOnly),
                YesNo(view.Idempotent), Markup.Escape(view.Undo), Markup.Escape(view.Method is null ? "" : $"{view.Method} {view.Url}"), Markup.Escape(view.ArgumentNames),
                Markup.Escape(view.Accepts), AuditCli.Cut(view.Description, 60),
            };
            if (withAccess)
                row.Add(Markup.Escape(view.Access ?? ""));
            table.AddRow(row.ToArray());
        }
        Cli.Out.Write(table);
        var untranslated = views.Count(v => v.Untranslated.Count > 0);
        Cli.Out.MarkupLine($"{views.Count} operation(s) of {catalog.Tools.Count} tool(s), catalog {Markup.Escape(catalog.Version)}." +
                           (untranslated > 0 ? $" {untranslated} carry untranslated notes from their import." : "") +
                           " Details: agentbus tools show TOOL.OPERATION");
    }

    static string YesNo(bool value) => value ? "yes" : "no";

    static Command Show()
    {
        var name = new Argument<string>("OPERATION") { Description = "The operation's full name, TOOL.OPERATION (e.g. github.issues_create)" };
        var catalog = CatalogOption();
        var policy = PolicyOption();
        var json = AsJson();
        var command = new Command("show", "One operation: what it does, capabilities and risk, the request it makes, its full arguments schema, and with --policy who may call it.")
        {
            name, catalog, policy, json,
        };
        command.SetAction((result, _) => Cli.Run(() =>
        {
            if (Load(result, catalog, policy) is not var (loaded, access, _))
                return Task.FromResult(Cli.Failed);
            var fullName = result.GetValue(name)!;
            if (loaded.Find(fullName) is not { } operation)
            {
                var tool = fullName.Contains('.', StringComparison.Ordinal) ? fullName[..fullName.LastIndexOf('.')] : fullName;
                var hint = loaded.Tools.TryGetValue(tool, out var found)
                    ? $" Tool {tool} has: {string.Join(", ", found.Operations.Keys.Order(StringComparer.Ordinal))}."
                    : $" Tools: {string.Join(", ", loaded.Tools.Keys.Order(StringComparer.Ordinal))}.";
                Cli.Error($"The catalog has no operation '{fullName}'.{hint}");
                return Task.FromResult(Cli.Failed);
            }
            var view = OperationView.Of(operation, access);
            if (result.GetValue(json))
                Cli.Out.Profile.Out.Writer.WriteLine(JsonSerializer.Serialize(view, Json));
            else
                PrintOperation(view);
            return Task.FromResult(Cli.Ok);
        }));
        return command;
    }

    static void PrintOperation(OperationView view)
    {
        var o = Cli.Out;
        // Description and schema as they are: Spectre would wrap long lines, and the schema is YAML to copy.
        var raw = o.Profile.Out.Writer;
        o.MarkupLine($"[bold]{Markup.Escape(view.Name)}[/]  [grey]{Markup.Escape(view.Source)}:{view.Line}[/]");
        raw.WriteLine();
        raw.WriteLine(view.Description);
        raw.WriteLine();
        var grid = new Grid().AddColumn().AddColumn();
        void Row(string label, string? value)
        {
            if (!string.IsNullOrEmpty(value))
                grid.AddRow(Markup.Escape(label), Markup.Escape(value));
        }
        Row("capabilities", string.Join(", ", view.Capabilities));
        Row("risk", view.Risk);
        Row("read-only", YesNo(view.ReadOnly));
        Row("idempotent", YesNo(view.Idempotent));
        if (view.UnitCostUsd != 0)
            Row("unit cost", AuditCli.Usd(view.UnitCostUsd));
        Row("request", view.Method is null ? null : $"{view.Method} {view.Url}");
        Row("body", view.Body is null or "none" ? view.Body : view.Body + (view.BodyArgument is { } argument ? $" (argument {argument})" : " (the arguments the URL and headers do not use)"));
        Row("headers from arguments", view.HeaderArguments is null ? null : string.Join(", ", view.HeaderArguments.Select(h => $"{h.Key} ← {h.Value}")));
        Row("external reference", view.ExternalReference);
        Row("timeout", view.Timeout);
        Row("retries", view.Retries?.ToString(CultureInfo.InvariantCulture));
        Row("undone by", view.Compensation?.ToString());
        Row("sensitive data", $"accepts {view.Accepts}");
        Row("irreversible", view.Irreversible ? "yes" + (view.IrreversibleReason is { } reason ? $": {reason}" : "") : null);
        Row("who may call it", view.Access);
        o.Write(grid);
        o.WriteLine();
        o.MarkupLine("[bold]arguments[/] (JSON Schema 2020-12):");
        raw.WriteLine(CatalogWriter.Write(view.Arguments).TrimEnd());
        if (view.Untranslated.Count > 0)
        {
            raw.WriteLine();
            o.MarkupLine("[yellow]untranslated[/] (from its import, for review):");
            foreach (var note in view.Untranslated)
                raw.WriteLine("  - " + note);
        }
    }
}
