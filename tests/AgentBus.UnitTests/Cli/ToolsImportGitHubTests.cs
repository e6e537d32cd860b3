using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgentBus.Catalog;
using AgentBus.Catalog.Http;
using AgentBus.Cli.OpenApi;
using Xunit.Abstractions;

namespace AgentBus.UnitTests.Cli;

/// <summary>
/// `agentbus tools import` on GitHub's REST API description (about 13 MB), from the npm package
/// @octokit/openapi, fetched with `npm pack` into a cache folder that later runs reuse. It never
/// skips: without npm or the registry it fails and says why. The figures it prints (operations
/// imported, seconds, spec size) are the ones the release note quotes.
/// </summary>
public sealed class ToolsImportGitHubTests(ITestOutputHelper output)
{
    static readonly string[] Selected =
        ["issues/create", "issues/get", "issues/list-for-repo", "repos/get", "pulls/create", "issues/create-comment"];

    [Fact]
    public async Task The_GitHub_REST_description_imports_the_chosen_operations_with_correct_schemas_and_reloads()
    {
        var specFile = await OctokitOpenApi.SpecAsync(output);
        var size = new FileInfo(specFile).Length;

        var clock = Stopwatch.StartNew();
        var spec = await OpenApiSpec.LoadAsync(specFile, CancellationToken.None);
        var read = clock.Elapsed;
        Assert.True(spec.Succeeded, string.Join("\n", spec.Errors.Take(10)));
        var result = OpenApiImporter.Import(spec.Document!, new ImportRequest("github", Selected, SourceName: Path.GetFileName(specFile)));
        var total = clock.Elapsed;

        output.WriteLine($"GitHub REST description {OctokitOpenApi.Version} ({size / 1_000_000.0:0.0} MB, OpenAPI {spec.Version}): " +
                         $"{result.Imported.Count} of {Selected.Length} operations imported, {result.Skipped.Count} skipped, in {total.TotalSeconds:0.00} s " +
                         $"(reading {read.TotalSeconds:0.00} s, translating {(total - read).TotalSeconds:0.00} s).");
        foreach (var skipped in result.Skipped)
            output.WriteLine($"skipped {skipped.Source}: {skipped.Reason}");
        Assert.Empty(result.Errors);
        Assert.Empty(result.Skipped);
        Assert.Equal(["repos_get", "issues_list_for_repo", "issues_create", "issues_get", "issues_create_comment", "pulls_create"],
            result.Imported.Select(o => o.Name));
        Assert.Equal("https://api.github.com", result.Catalog!.Http!.BaseUrl);

        // What the file says, read back as the executor and the policy service would read it.
        var (tool, errors) = CatalogLoader.Parse(result.Yaml!, "github.yaml", "github");
        Assert.Empty(errors);
        var operations = tool!.Operations;
        Assert.Equal(6, operations.Count);

        var create = operations["issues_create"];
        Assert.Equal("POST", create.Http!.Method);
        Assert.Equal("https://api.github.com/repos/{owner}/{repo}/issues", create.Http.Url.ToString());
        Assert.Equal(BodyKind.Json, create.Http.Body);
        Assert.Equal("/id", create.Http.ExternalReference);
        Assert.Equal(["message.send"], create.Capabilities);
        Assert.Contains(OpenApiImporter.CapabilitiesGuessed, create.Untranslated);
        AssertArgument(create, "owner", "string", required: true);
        AssertArgument(create, "repo", "string", required: true);
        AssertArgument(create, "title", """["string","integer"]""", required: true);
        AssertArgument(create, "body", "string", required: false);
        AssertArgument(create, "labels", "array", required: false);

        var get = operations["issues_get"];
        Assert.True(get.ReadOnly);
        Assert.Equal(["read"], get.Capabilities);
        Assert.Equal("low", get.Risk);
        Assert.Equal("https://api.github.com/repos/{owner}/{repo}/issues/{issue_number}", get.Http!.Url.ToString());
        AssertArgument(get, "issue_number", "integer", required: true);

        var list = operations["issues_list_for_repo"];
        Assert.Equal(["owner", "repo"], list.Http!.Url.PathVariables);
        Assert.Contains("state", list.Http.Url.QueryVariables);
        Assert.Contains("per_page", list.Http.Url.QueryVariables);
        Assert.Equal("""["open","closed","all"]""", list.ArgumentSchemaJson["properties"]!["state"]!["enum"]!.ToJsonString());

        AssertArgument(operations["pulls_create"], "head", "string", required: true);
        AssertArgument(operations["pulls_create"], "base", "string", required: true);
        AssertArgument(operations["issues_create_comment"], "issue_number", "integer", required: true);
        AssertArgument(operations["issues_create_comment"], "body", "string", required: true);
        AssertArgument(operations["repos_get"], "repo", "string", required: true);

        // The request an agent's arguments make: path from the template, the rest as the JSON body.
        var arguments = JsonSerializer.SerializeToElement(new { owner = "octo", repo = "hello", title = "Printer on fire", labels = new[] { "bug" } });
        Assert.True(ArgumentSchemasMatch(create, arguments));
        var (request, problem) = OperationRequest.Build(tool.Http!, create.Http, arguments);
        Assert.Null(problem);
        Assert.Equal("https://api.github.com/repos/octo/hello/issues", request!.RequestUri!.AbsoluteUri);
        var body = JsonNode.Parse(await request.Content!.ReadAsStringAsync())!;
        Assert.Equal("""{"title":"Printer on fire","labels":["bug"]}""", body.ToJsonString());
    }

    static bool ArgumentSchemasMatch(CatalogOperation operation, JsonElement arguments) =>
        AgentBus.Catalog.Schemas.ArgumentSchemas.Matches(operation.ArgumentSchema, arguments);

    static void AssertArgument(CatalogOperation operation, string name, string type, bool required)
    {
        var schema = operation.ArgumentSchemaJson;
        var property = schema["properties"]?[name];
        Assert.True(property is not null, $"{operation.FullName} has no argument '{name}'");
        var actual = property["type"] is JsonValue single ? single.GetValue<string>() : property["type"]?.ToJsonString();
        Assert.Equal(type, actual);
        var requiredNames = (schema["required"] as JsonArray)?.Select(n => n!.GetValue<string>()) ?? [];
        Assert.Equal(required, requiredNames.Contains(name));
    }
}

/// <summary>
/// @octokit/openapi at a fixed version (so the assertions hold until someone moves it on purpose),
/// packed by npm into $AGENTBUS_STATE_DIR/cache/octokit-openapi, or a folder in the temp directory.
/// </summary>
static class OctokitOpenApi
{
    public const string Version = "23.0.2";
    const string Package = "@octokit/openapi";
    const string Entry = "package/generated/api.github.com.json";
    static readonly SemaphoreSlim OneAtATime = new(1, 1);

    static string CacheFolder => Environment.GetEnvironmentVariable("AGENTBUS_STATE_DIR") is { Length: > 0 } state
        ? Path.Combine(state, "cache", "octokit-openapi")
        : Path.Combine(Path.GetTempPath(), "agentbus-cache", "octokit-openapi");

    public static async Task<string> SpecAsync(ITestOutputHelper output)
    {
        await OneAtATime.WaitAsync();
        try
        {
            var folder = Directory.CreateDirectory(CacheFolder).FullName;
            var spec = Path.Combine(folder, $"api.github.com-{Version}.json");
            if (File.Exists(spec))
            {
                output.WriteLine($"spec from the cache: {spec}");
                return spec;
            }
            var tarball = Path.Combine(folder, $"octokit-openapi-{Version}.tgz");
            if (!File.Exists(tarball))
                await PackAsync(folder, tarball, output);
            else
                output.WriteLine($"package from the cache: {tarball}");
            await ExtractAsync(tarball, spec);
            return spec;
        }
        finally
        {
            OneAtATime.Release();
        }
    }

    static async Task PackAsync(string folder, string tarball, ITestOutputHelper output)
    {
        // Packed into a folder of its own, then moved: a run killed halfway leaves no half tarball behind.
        var scratch = Directory.CreateDirectory(Path.Combine(folder, $"pack-{Guid.NewGuid():N}")).FullName;
        try
        {
            var start = new ProcessStartInfo("npm")
            {
                WorkingDirectory = scratch,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var argument in new[] { "pack", $"{Package}@{Version}", "--pack-destination", scratch, "--json" })
                start.ArgumentList.Add(argument);
            start.Environment["npm_config_update_notifier"] = "false";
            start.Environment["npm_config_fund"] = "false";
            start.Environment["npm_config_audit"] = "false";
            start.Environment["npm_config_yes"] = "true";

            var clock = Stopwatch.StartNew();
            Process process;
            try
            {
                process = Process.Start(start)!;
            }
            catch (System.ComponentModel.Win32Exception ex)
            {
                throw new InvalidOperationException($"npm could not be started ({ex.Message}); this test needs npm and the npm registry.", ex);
            }
            using (process)
            {
                process.StandardInput.Close();
                var stdout = process.StandardOutput.ReadToEndAsync();
                var stderr = process.StandardError.ReadToEndAsync();
                using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
                try
                {
                    await process.WaitForExitAsync(timeout.Token);
                }
                catch (OperationCanceledException)
                {
                    process.Kill(entireProcessTree: true);
                    throw new TimeoutException($"npm pack {Package}@{Version} did not finish in 5 minutes.");
                }
                if (process.ExitCode != 0)
                    throw new InvalidOperationException($"npm pack {Package}@{Version} exited with {process.ExitCode}: {await stderr}{await stdout}");
                await stdout;
            }
            var packed = Directory.GetFiles(scratch, "*.tgz").SingleOrDefault()
                         ?? throw new InvalidOperationException($"npm pack {Package}@{Version} wrote no .tgz into {scratch}.");
            File.Move(packed, tarball, overwrite: true);
            output.WriteLine($"npm pack {Package}@{Version}: {new FileInfo(tarball).Length / 1_000_000.0:0.0} MB in {clock.Elapsed.TotalSeconds:0.0} s");
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    static async Task ExtractAsync(string tarball, string spec)
    {
        var partial = spec + $".{Guid.NewGuid():N}.partial";
        try
        {
            await using (var file = File.OpenRead(tarball))
            await using (var gzip = new GZipStream(file, CompressionMode.Decompress))
            await using (var tar = new TarReader(gzip))
            {
                while (await tar.GetNextEntryAsync() is { } entry)
                {
                    if (entry.Name != Entry || entry.DataStream is null)
                        continue;
                    await using var target = File.Create(partial);
                    await entry.DataStream.CopyToAsync(target);
                    break;
                }
            }
            if (!File.Exists(partial))
                throw new InvalidOperationException($"{tarball} has no {Entry}: the package's layout changed.");
            File.Move(partial, spec, overwrite: true);
        }
        finally
        {
            File.Delete(partial);
        }
    }
}
