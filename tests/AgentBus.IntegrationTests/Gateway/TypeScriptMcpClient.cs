using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgentBus.IntegrationTests.Infrastructure;

namespace AgentBus.IntegrationTests.Gateway;

/// <summary>
/// tests/agents/mcp-typescript/client.mjs, the official TypeScript MCP SDK (@modelcontextprotocol/sdk, the
/// version its package.json pins) driving the gateway: the SDK is installed with npm into
/// $AGENTBUS_STATE_DIR/cache (or a folder in the temp directory) on first use, and each scenario runs as
/// one bounded `node` process that prints a JSON line per step.
/// </summary>
public static class TypeScriptMcpClient
{
    const string Sdk = "@modelcontextprotocol/sdk";

    static readonly TimeSpan InstallTimeout = TimeSpan.FromMinutes(5);
    static readonly TimeSpan ScenarioTimeout = TimeSpan.FromSeconds(90);
    static readonly SemaphoreSlim OneInstall = new(1, 1);
    static readonly Lazy<string?> MissingNode = new(ProbeNode);

    static string AgentFolder => Path.Combine(PythonAgent.RepoRoot(), "tests", "agents", "mcp-typescript");

    /// <summary>The SDK version tests/agents/mcp-typescript/package.json pins.</summary>
    public static string SdkVersion =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(AgentFolder, "package.json")))!["dependencies"]![Sdk]!.GetValue<string>();

    static string CacheFolder => Path.Combine(
        Environment.GetEnvironmentVariable("AGENTBUS_STATE_DIR") is { Length: > 0 } state ? Path.Combine(state, "cache") : Path.Combine(Path.GetTempPath(), "agentbus-cache"),
        $"mcp-typescript-sdk-{SdkVersion}");

    /// <summary>
    /// Why the client cannot run here, or null. Only outside CI: with CI=true a missing node or npm is a
    /// failure that says what to install, never a skip.
    /// </summary>
    public static string? SkipReason => InCi ? null : MissingNode.Value;

    static bool InCi => Environment.GetEnvironmentVariable("CI") is { } ci && (ci.Equals("true", StringComparison.OrdinalIgnoreCase) || ci == "1");

    public sealed record Run(int ExitCode, IReadOnlyList<JsonElement> Lines, string Stdout, string Stderr)
    {
        public JsonElement Connect => Lines.Count > 0 && Lines[0].GetProperty("op").GetString() == "connect"
            ? Lines[0]
            : throw new Xunit.Sdk.XunitException($"no connect line\n{Describe()}");

        /// <summary>The line of scenario step <paramref name="index"/>.</summary>
        public JsonElement Step(int index) =>
            Lines.FirstOrDefault(l => l.TryGetProperty("step", out var step) && step.GetInt32() == index) is { ValueKind: JsonValueKind.Object } line
                ? line
                : throw new Xunit.Sdk.XunitException($"no line for step {index}\n{Describe()}");

        public string Describe() => $"client.mjs exited {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
    }

    public static object ListTools() => new { op = "listTools" };

    public static object CallTool(string name, object arguments, IDictionary<string, string>? meta = null) =>
        new { op = "callTool", name, arguments, meta };

    /// <summary>Runs one scenario (connect, then the steps in order) as <paramref name="agentId"/>.</summary>
    public static async Task<Run> RunAsync(GatewayFixture fixture, string agentId, string password, params object[] steps)
    {
        var script = await InstallAsync();
        var start = ChildProcess.StartInfo("node", script);
        start.Environment.Remove("NODE_OPTIONS");
        start.Environment.Remove("NODE_PATH");

        // On stdin, not argv: the agent's password stays out of the process list.
        var run = await ChildProcess.RunAsync(start, JsonSerializer.Serialize(new
        {
            url = new Uri(fixture.GatewayUrl, "/mcp").ToString(),
            agentId,
            password,
            timeoutSeconds = ScenarioTimeout.TotalSeconds,
            steps,
        }), ScenarioTimeout + TimeSpan.FromSeconds(30), "node client.mjs", Missing);
        var lines = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => JsonDocument.Parse(line).RootElement.Clone()).ToList();
        return new Run(run.ExitCode, lines, run.Stdout, run.Stderr);
    }

    /// <summary>The SDK installed in the cache (once), and the script copied beside its node_modules so that Node resolves the SDK from there.</summary>
    const string Missing = "These tests need Node.js 18+ and npm (Debian: apt-get install nodejs npm; ops/lib/packages.sh installs them) and the npm registry.";

    static async Task<string> InstallAsync()
    {
        await OneInstall.WaitAsync();
        try
        {
            var folder = CacheFolder;
            if (InstalledVersion(folder) != SdkVersion)
                await NpmInstallAsync(folder);

            // Named by content: another worktree's run sharing the cache never runs this one's script.
            var source = await File.ReadAllBytesAsync(Path.Combine(AgentFolder, "client.mjs"));
            var script = Path.Combine(folder, $"client-{Convert.ToHexStringLower(SHA256.HashData(source))[..16]}.mjs");
            if (!File.Exists(script))
            {
                var partial = $"{script}.{Guid.NewGuid():N}.partial";
                await File.WriteAllBytesAsync(partial, source);
                File.Move(partial, script, overwrite: true);
            }
            return script;
        }
        finally
        {
            OneInstall.Release();
        }
    }

    static string? InstalledVersion(string folder)
    {
        var manifest = Path.Combine(folder, "node_modules", "@modelcontextprotocol", "sdk", "package.json");
        return File.Exists(manifest) ? JsonNode.Parse(File.ReadAllText(manifest))?["version"]?.GetValue<string>() : null;
    }

    /// <summary>npm install into a scratch folder, then moved into place: a run killed halfway leaves no half-installed SDK behind.</summary>
    static async Task NpmInstallAsync(string folder)
    {
        var parent = Directory.CreateDirectory(Path.GetDirectoryName(folder)!).FullName;
        var scratch = Directory.CreateDirectory(Path.Combine(parent, $"{Path.GetFileName(folder)}.{Guid.NewGuid():N}.partial")).FullName;
        try
        {
            File.Copy(Path.Combine(AgentFolder, "package.json"), Path.Combine(scratch, "package.json"));
            var start = ChildProcess.StartInfo("npm", "install", "--no-audit", "--no-fund", "--no-package-lock", "--omit=dev");
            start.WorkingDirectory = scratch;
            start.Environment["npm_config_update_notifier"] = "false";
            start.Environment["npm_config_yes"] = "true";

            var install = await ChildProcess.RunAsync(start, null, InstallTimeout, $"npm install {Sdk}@{SdkVersion}", Missing);
            if (install.ExitCode != 0)
                throw new InvalidOperationException($"npm install {Sdk}@{SdkVersion} exited with {install.ExitCode} (this test needs the npm registry):\n{install.Stderr}{install.Stdout}");
            if (InstalledVersion(scratch) is var installed && installed != SdkVersion)
                throw new InvalidOperationException($"npm install left {Sdk} {installed ?? "missing"} in {scratch}, not {SdkVersion}.");

            if (Directory.Exists(folder))
                Directory.Delete(folder, recursive: true);
            try
            {
                Directory.Move(scratch, folder);
            }
            catch (IOException) when (InstalledVersion(folder) == SdkVersion)
            {
                // Another test process installed it first.
            }
        }
        finally
        {
            if (Directory.Exists(scratch))
                Directory.Delete(scratch, recursive: true);
        }
    }



    static string? ProbeNode()
    {
        foreach (var program in new[] { "node", "npm" })
        {
            try
            {
                using var probe = Process.Start(new ProcessStartInfo(program, ["--version"])
                {
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                    UseShellExecute = false,
                })!;
                var version = probe.StandardOutput.ReadToEndAsync();
                if (!probe.WaitForExit(TimeSpan.FromSeconds(20)))
                {
                    probe.Kill(entireProcessTree: true);
                    return $"`{program} --version` did not answer within 20 s.";
                }
                if (probe.ExitCode != 0)
                    return $"`{program} --version` exited with {probe.ExitCode}.";
                if (program == "node" && !(int.TryParse(version.Result.Trim().TrimStart('v').Split('.')[0], out var major) && major >= 18))
                    return $"node {version.Result.Trim()} is older than the 18 the MCP SDK needs.";
            }
            catch (System.ComponentModel.Win32Exception ex)
            {
                return $"{program} is not installed ({ex.Message}); install nodejs and npm (ops/lib/packages.sh does) to run the TypeScript MCP SDK tests.";
            }
        }
        return null;
    }
}

/// <summary>A fact skipped, with the reason, only outside CI and only where Node.js or npm is missing.</summary>
public sealed class TypeScriptMcpFactAttribute : FactAttribute
{
    public TypeScriptMcpFactAttribute() => Skip = TypeScriptMcpClient.SkipReason;
}
