using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace AgentBus.IntegrationTests.Infrastructure;

/// <summary>
/// One AgentBus host as a real child process (the build output next to this test's), configured
/// through environment variables as a deployment would, listening on a loopback port of its own.
/// <see cref="Kill"/> is SIGKILL (kill -9): no shutdown code runs. Killed on dispose, whatever happened,
/// and by a watchdog shell if this test process dies first.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    static readonly ConcurrentDictionary<int, Process> Running = new();

    readonly Process _process;
    readonly ConcurrentQueue<string> _output = new();

    static ServiceProcess() =>
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (var process in Running.Values)
                TryKill(process);
        };

    ServiceProcess(Process process, Uri url)
    {
        _process = process;
        Url = url;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) _output.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _output.Enqueue(e.Data); };
    }

    public Uri Url { get; }

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

    /// <summary>A host's build output for the same configuration as this test assembly, e.g. ("AgentBus.Approvals", "agentbus-approvals").</summary>
    public static string DllPath(string project, string assembly)
    {
        var testBin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var artifactsBin = testBin.Parent!.Parent!.FullName;
        return Path.Combine(artifactsBin, project, testBin.Name, assembly + ".dll");
    }

    public static async Task<ServiceProcess> StartAsync(string project, string assembly, IReadOnlyDictionary<string, string?> environment,
        params string[] arguments)
    {
        var dll = DllPath(project, assembly);
        if (!File.Exists(dll))
            throw new InvalidOperationException($"Build the solution first: {dll} is missing.");

        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(Watchdog);
        start.ArgumentList.Add($"{assembly}-watchdog");
        start.ArgumentList.Add(Environment.ProcessId.ToString());
        start.ArgumentList.Add(dll);
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);

        var url = new Uri($"http://127.0.0.1:{FreePort()}");
        var settings = new Dictionary<string, string?>
        {
            ["Urls"] = url.ToString().TrimEnd('/'),
            ["MASSTRANSIT_USAGE_TELEMETRY"] = "false",
            ["DOTNET_NOLOGO"] = "1",
            ["DOTNET_ENVIRONMENT"] = "Test",
            ["ASPNETCORE_ENVIRONMENT"] = "Test",
        };
        foreach (var (key, value) in environment)
            settings[key] = value;
        foreach (var (key, value) in settings)
            start.Environment[key] = value;

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var service = new ServiceProcess(process, url);
        process.Start();
        Running[process.Id] = process;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await service.WaitReadyAsync();
        }
        catch
        {
            await service.DisposeAsync();
            throw;
        }
        return service;
    }

    async Task WaitReadyAsync()
    {
        using var http = new HttpClient { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(5) };
        await Eventually.True(async () =>
        {
            if (HasExited)
                throw new InvalidOperationException($"The service exited while starting:{Environment.NewLine}{Output}");
            try
            {
                using var response = await http.GetAsync("/health/ready");
                return response.IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, $"{Url} to be ready", TimeSpan.FromSeconds(60));
    }

    static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>SIGKILL to the service (and its watchdog), then waits until it is gone: exactly like a crash.</summary>
    public async Task KillAsync()
    {
        TryKill(_process);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _process.WaitForExitAsync(cancel.Token);
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
            using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            // It was killed; the kernel will reap it.
        }
        Running.TryRemove(_process.Id, out _);
        _process.Dispose();
    }
}
