using System.Diagnostics;

namespace AgentBus.Testbed;

/// <summary>
/// One AgentBus service as a real process: `dotnet artifacts/bin/PROJECT/CONFIG/ASSEMBLY.dll`, configured
/// through environment variables like ops/run.sh does, on 127.0.0.1 with a free port of its own, its
/// output appended to its own log file. It can be killed (SIGKILL), stopped (SIGTERM) and started
/// again; every start is counted and every pid remembered, so a run can tell a crash from a kill.
/// The one child-process wrapper of the load, fault and hostile runs and of the integration tests;
/// disposing it kills the process, and a <see cref="Watchdog"/> on the same run tag kills it if the
/// program that started it dies first.
/// </summary>
public sealed class ServiceProcess(
    string name,
    string dll,
    IReadOnlyList<string> arguments,
    IReadOnlyDictionary<string, string> environment,
    string logFile,
    string runTag,
    string readyPath = "/health/ready",
    int port = 0) : IAsyncDisposable
{
    Process? _process;
    long _logOffset;

    public string Name { get; } = name;
    public string LogFile { get; } = logFile;
    public Uri? Url { get; private set; }
    public int Starts { get; private set; }
    public int? Pid => _process is { HasExited: false } p ? p.Id : null;
    public List<int> Pids { get; } = [];
    public bool Running => _process is { HasExited: false };

    /// <summary>Kills and stops the run asked for: an exit that was not one of these is a crash.</summary>
    public int ExpectedExits { get; private set; }

    public int? LastExitCode => _process is { HasExited: true } p ? p.ExitCode : null;

    /// <summary>The built program of a project beside this one: artifacts/bin/PROJECT/CONFIG/ASSEMBLY.dll.</summary>
    public static string Dll(string project, string assembly)
    {
        var bin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var dll = Path.Combine(bin.Parent!.Parent!.FullName, project, bin.Name, assembly + ".dll");
        return File.Exists(dll) ? dll : throw new InvalidOperationException($"Build the solution first: {dll} is missing.");
    }

    public async Task StartAsync(CancellationToken ct, TimeSpan? timeout = null)
    {
        await LaunchAsync(ct);
        await WaitReadyAsync(timeout ?? TimeSpan.FromSeconds(120), ct);
    }

    /// <summary>Starts the process without waiting for it to be ready (a test that expects it to refuse to start).</summary>
    public async Task LaunchAsync(CancellationToken ct)
    {
        if (Running)
            throw new InvalidOperationException($"{Name} is already running (pid {Pid}).");
        _logOffset = File.Exists(LogFile) ? new FileInfo(LogFile).Length : 0;
        await File.AppendAllTextAsync(LogFile, $"==== testbed: start #{Starts + 1} of {Name} at {DateTimeOffset.UtcNow:O}{Environment.NewLine}", ct);
        _logOffset = new FileInfo(LogFile).Length;

        // exec: the pid is dotnet's own, so SIGKILL hits the service, and its output goes straight to the file.
        var start = new ProcessStartInfo("bash")
        {
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(LogFile)!,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("exec dotnet \"$@\" >>\"$AGENTBUS_TESTBED_LOG\" 2>&1 </dev/null");
        start.ArgumentList.Add("agentbus-testbed");
        start.ArgumentList.Add(dll);
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        start.ArgumentList.Add("--urls");
        // A port chosen here, not by the host: the address is then known without reading the log,
        // which a host logging at Warning never writes it to.
        var listenPort = port != 0 ? port : FreePort();
        start.ArgumentList.Add($"http://127.0.0.1:{listenPort}");
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("AGENTBUS_", StringComparison.Ordinal) ||
                                                              k.StartsWith("RabbitMq__", StringComparison.Ordinal) ||
                                                              k.StartsWith("Database__", StringComparison.Ordinal)).ToList())
            start.Environment.Remove(key);
        foreach (var (key, value) in environment)
            start.Environment[key] = value;
        start.Environment["AGENTBUS_TESTBED_LOG"] = LogFile;
        start.Environment["AGENTBUS_TESTBED_RUN"] = runTag;

        _process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {Name}.");
        Starts++;
        Pids.Add(_process.Id);
        Url = new Uri($"http://127.0.0.1:{listenPort}");
    }

    /// <summary>The exit code, once the process has ended by itself within <paramref name="timeout"/>.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        await _process!.WaitForExitAsync(cancel.Token);
        return _process.ExitCode;
    }

    /// <summary>What the process wrote since its last start.</summary>
    public string Output => File.Exists(LogFile) ? ReadSinceStart() : "";

    async Task WaitReadyAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            if (_process!.HasExited)
                throw new InvalidOperationException($"{Name} exited with code {_process.ExitCode} while starting:{Environment.NewLine}{Tail(30)}");
            try
            {
                using var response = await http.GetAsync(new Uri(Url!, readyPath), ct);
                if (response.IsSuccessStatusCode)
                    return;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                // Not listening yet.
            }
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{Name} was not ready within {timeout.TotalSeconds:0} s:{Environment.NewLine}{Tail(30)}");
            await Task.Delay(100, ct);
        }
    }

    static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    string ReadSinceStart()
    {
        using var stream = new FileStream(LogFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        stream.Seek(_logOffset, SeekOrigin.Begin);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>Whether the service answers 200 on its readiness probe now.</summary>
    public async Task<bool> IsReadyAsync(CancellationToken ct)
    {
        if (Url is null || !Running)
            return false;
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
        try
        {
            using var response = await http.GetAsync(new Uri(Url, readyPath), ct);
            return response.IsSuccessStatusCode;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>SIGKILL: no shutdown, no flushing, in-flight work is lost as in a crash.</summary>
    public async Task KillAsync()
    {
        if (_process is not { HasExited: false } process)
            return;
        ExpectedExits++;
        process.Kill(entireProcessTree: false);
        await process.WaitForExitAsync();
        await File.AppendAllTextAsync(LogFile, $"==== testbed: SIGKILL of {Name} (pid {process.Id}) at {DateTimeOffset.UtcNow:O}{Environment.NewLine}");
    }

    /// <summary>SIGTERM, then SIGKILL after <paramref name="grace"/>.</summary>
    public async Task StopAsync(TimeSpan? grace = null)
    {
        if (_process is not { HasExited: false } process)
            return;
        ExpectedExits++;
        try
        {
            using var kill = Process.Start("kill", ["-TERM", process.Id.ToString()]);
            await kill!.WaitForExitAsync();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            process.Kill();
        }
        using var wait = new CancellationTokenSource(grace ?? TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
    }

    /// <summary>Exits nobody asked for: the process is gone but was neither killed nor stopped by the run.</summary>
    public int UnexpectedExits => Starts - (Running ? 1 : 0) - ExpectedExits;

    public async ValueTask DisposeAsync()
    {
        if (Running)
            await KillAsync();
        _process?.Dispose();
    }

    public string Tail(int lines)
    {
        if (!File.Exists(LogFile))
            return "(no log)";
        var all = File.ReadLines(LogFile).TakeLast(lines);
        return string.Join(Environment.NewLine, all.Select(l => "  | " + l));
    }
}
