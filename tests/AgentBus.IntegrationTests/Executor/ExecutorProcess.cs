using System.Collections.Concurrent;
using System.Diagnostics;
using AgentBus.Cli.Broker;
using AgentBus.Executor.Tools;
using AgentBus.IntegrationTests.Infrastructure;

namespace AgentBus.IntegrationTests.Executor;

/// <summary>
/// agentbus-executor as a real child process (the build output next to this test's), configured
/// through environment variables as a deployment would. Killed on dispose, whatever happened.
/// </summary>
public sealed class ExecutorProcess : IAsyncDisposable
{
    static readonly ConcurrentDictionary<int, Process> Running = new();

    readonly Process _process;
    readonly ConcurrentQueue<string> _output = new();

    static ExecutorProcess() =>
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (var process in Running.Values)
                TryKill(process);
        };

    ExecutorProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) _output.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _output.Enqueue(e.Data); };
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Output => string.Join(Environment.NewLine, _output);

    const string Watchdog = """
        parent="$1"; shift
        dotnet "$@" & child=$!
        while kill -0 "$child" 2>/dev/null; do
          kill -0 "$parent" 2>/dev/null || { kill -9 "$child"; break; }
          sleep 0.5
        done
        wait "$child"
        """;

    /// <summary>The executor host's build output for the same configuration as this test assembly.</summary>
    public static string DllPath
    {
        get
        {
            var testBin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var configuration = testBin.Name;
            var artifactsBin = testBin.Parent!.Parent!.FullName;
            return Path.Combine(artifactsBin, "AgentBus.Executor", configuration, "agentbus-executor.dll");
        }
    }

    public static ExecutorProcess Start(PipelineFixture fixture, string tool, IDictionary<string, string?>? environment = null, params string[] arguments)
    {
        if (!File.Exists(DllPath))
            throw new InvalidOperationException($"Build the solution first: {DllPath} is missing.");

        // A small shell keeps watch: if this test process dies without cleaning up (a crashed test
        // host), the executor is killed too instead of consuming from a deleted vhost forever.
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(Watchdog);
        start.ArgumentList.Add("agentbus-executor-watchdog");
        start.ArgumentList.Add(Environment.ProcessId.ToString());
        start.ArgumentList.Add(DllPath);
        foreach (var argument in new[] { "--tool", tool, "--tools-directory", fixture.ToolsDirectory, "--secrets-directory", fixture.ToolSecretsDirectory }.Concat(arguments))
            start.ArgumentList.Add(argument);

        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith(ToolSecret.EnvironmentPrefix, StringComparison.Ordinal)).ToList())
            start.Environment.Remove(key);
        var brokerUser = BrokerTopology.ExecutorUser(tool);
        var settings = new Dictionary<string, string?>
        {
            ["Urls"] = "http://127.0.0.1:0",
            ["RabbitMq__Host"] = fixture.Servers.RabbitHost,
            ["RabbitMq__Port"] = fixture.Servers.RabbitPort.ToString(),
            ["RabbitMq__VirtualHost"] = fixture.VirtualHost,
            ["RabbitMq__Username"] = brokerUser,
            ["RabbitMq__PasswordFile"] = fixture.Secrets.PathFor("rabbitmq", brokerUser),
            ["Database__ConnectionString"] = fixture.ConnectionString,
            ["Database__ApplyMigrations"] = "false",
            ["Executor__PolicyKeys"] = fixture.SigningKeysDirectory,
            ["Logging__LogLevel__Default"] = "Information",
            ["MASSTRANSIT_USAGE_TELEMETRY"] = "false",
            ["DOTNET_NOLOGO"] = "1",
        };
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
            settings[key] = value;
        foreach (var (key, value) in settings)
            start.Environment[key] = value;

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var executor = new ExecutorProcess(process);
        process.Start();
        Running[process.Id] = process;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return executor;
    }

    /// <summary>Waits until the tool's queue has this many consumers, i.e. the copies are taking commands.</summary>
    public static Task WaitForConsumersAsync(PipelineFixture fixture, string tool, int count, ExecutorProcess? watch = null) =>
        Eventually.True(async () =>
        {
            if (watch is { HasExited: true })
                throw new InvalidOperationException($"The executor exited while starting:{Environment.NewLine}{watch.Output}");
            using var http = fixture.AdminHttp();
            using var response = await http.GetAsync(
                $"api/queues/{Uri.EscapeDataString(fixture.VirtualHost)}/{Uri.EscapeDataString(AgentBus.Contracts.WireNames.ToolQueue(tool))}");
            if (!response.IsSuccessStatusCode)
                return false;
            var queue = await System.Net.Http.Json.HttpContentJsonExtensions.ReadFromJsonAsync<System.Text.Json.JsonElement>(response.Content);
            return queue.TryGetProperty("consumers", out var consumers) && consumers.GetInt32() == count;
        }, $"{count} consumers on {tool}'s queue", TimeSpan.FromSeconds(60));

    /// <summary>SIGKILL to the executor (and its watchdog): no shutdown code runs, exactly like a crash.</summary>
    public void Kill() => TryKill(_process);

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cancel.Token);
        return _process.ExitCode;
    }

    static void TryKill(Process process)
    {
        try
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    public async ValueTask DisposeAsync()
    {
        TryKill(_process);
        try
        {
            await WaitForExitAsync(TimeSpan.FromSeconds(10));
        }
        catch (OperationCanceledException)
        {
            // It was killed; the kernel will reap it.
        }
        Running.TryRemove(_process.Id, out _);
        _process.Dispose();
    }
}
