using System.Diagnostics;
using System.Globalization;

namespace AgentBus.Testbed;

/// <summary>One reading of one process (or process group): CPU time so far and resident memory.</summary>
public readonly record struct ResourceSample(double Seconds, long CpuTicks, long RssBytes, int Processes);

/// <summary>What one process did over a phase: average CPU, memory at start, end and peak, and the memory trend.</summary>
public sealed record ResourceSummary(string Name, double CpuPercent, double CpuSeconds, double RssStartMb, double RssEndMb, double RssMaxMb,
    double RssSlopeMbPerMin, int Samples);

/// <summary>
/// Reads /proc/PID/stat (utime + stime) and /proc/PID/status (VmRSS) of every watched process once a
/// second. A watched "process" is a function returning its current pids, so a service restarted under
/// a new pid, or PostgreSQL's postmaster with all its backends, stay one line.
/// </summary>
public sealed class ProcessSampler : IAsyncDisposable
{
    static readonly long TicksPerSecond = 100; // USER_HZ on Linux
    readonly Dictionary<string, Func<IEnumerable<int>>> _targets = new(StringComparer.Ordinal);
    readonly Dictionary<string, List<ResourceSample>> _samples = new(StringComparer.Ordinal);
    readonly Stopwatch _clock = Stopwatch.StartNew();
    readonly CancellationTokenSource _stop = new();
    readonly Lock _lock = new();
    Task? _loop;

    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(1);

    public double Now => _clock.Elapsed.TotalSeconds;

    public void Watch(string name, Func<IEnumerable<int>> pids)
    {
        lock (_lock)
        {
            _targets[name] = pids;
            _samples[name] = [];
        }
    }

    public IReadOnlyList<string> Names
    {
        get
        {
            lock (_lock)
                return _targets.Keys.ToList();
        }
    }

    public void Start() => _loop = Task.Run(async () =>
    {
        using var timer = new PeriodicTimer(Interval);
        do
            SampleOnce();
        while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false));
    });

    public void SampleOnce()
    {
        var now = Now;
        lock (_lock)
        {
            foreach (var (name, pids) in _targets)
            {
                long ticks = 0, rss = 0;
                var count = 0;
                foreach (var pid in pids())
                {
                    if (Read(pid) is not { } reading)
                        continue;
                    ticks += reading.Ticks;
                    rss += reading.Rss;
                    count++;
                }
                if (count > 0)
                    _samples[name].Add(new ResourceSample(now, ticks, rss, count));
            }
        }
    }

    /// <summary>CPU and memory of each process between two points of <see cref="Now"/>.</summary>
    public IReadOnlyList<ResourceSummary> Summarize(double from, double to)
    {
        lock (_lock)
        {
            var result = new List<ResourceSummary>();
            foreach (var (name, all) in _samples)
            {
                var window = all.Where(s => s.Seconds >= from && s.Seconds <= to).ToList();
                if (window.Count < 2)
                    continue;
                var first = window[0];
                var last = window[^1];
                // CPU ticks only ever grow for one pid; a restart (or a backend that exited) makes them drop: sum the positive steps.
                double ticks = 0;
                for (var i = 1; i < window.Count; i++)
                    ticks += Math.Max(0, window[i].CpuTicks - window[i - 1].CpuTicks);
                var elapsed = last.Seconds - first.Seconds;
                var cpu = elapsed > 0 ? ticks / TicksPerSecond / elapsed * 100 : 0;
                result.Add(new ResourceSummary(name, cpu, ticks / TicksPerSecond, Mb(first.RssBytes), Mb(last.RssBytes), Mb(window.Max(s => s.RssBytes)),
                    Slope(window), window.Count));
            }
            return result;
        }
    }

    /// <summary>Resident memory over time (seconds, MB), for a run's record.</summary>
    public IReadOnlyList<(double Seconds, double RssMb)> Series(string name, double from, double to)
    {
        lock (_lock)
            return _samples.TryGetValue(name, out var all)
                ? all.Where(s => s.Seconds >= from && s.Seconds <= to).Select(s => (s.Seconds, Mb(s.RssBytes))).ToList()
                : [];
    }

    static double Mb(long bytes) => bytes / 1024.0 / 1024.0;

    /// <summary>Least-squares slope of resident memory, in MB per minute.</summary>
    static double Slope(List<ResourceSample> window)
    {
        var n = window.Count;
        var meanX = window.Average(s => s.Seconds);
        var meanY = window.Average(s => Mb(s.RssBytes));
        double covariance = 0, variance = 0;
        foreach (var s in window)
        {
            covariance += (s.Seconds - meanX) * (Mb(s.RssBytes) - meanY);
            variance += (s.Seconds - meanX) * (s.Seconds - meanX);
        }
        return n < 2 || variance == 0 ? 0 : covariance / variance * 60;
    }

    static (long Ticks, long Rss)? Read(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // Fields after the command name, which is in parentheses and may contain spaces.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // fields[0] is field 3 (state): utime is field 14, stime field 15.
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            // Proportional set size where the kernel offers it: PostgreSQL's backends share one buffer
            // pool, and adding up their RSS would count it once per backend.
            long rss = 0;
            var rollup = $"/proc/{pid}/smaps_rollup";
            foreach (var line in File.Exists(rollup) ? File.ReadLines(rollup) : File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("Pss:", StringComparison.Ordinal) || line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    rss = long.Parse(line[(line.IndexOf(':') + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
                    break;
                }
            return (ticks, rss);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>Resident set size (VmRSS) of one process now, in MB; NaN when it is gone.</summary>
    /// <summary>
    /// Watches every process of a run: the pipeline's services, RabbitMQ, PostgreSQL with its backends,
    /// and this process (named <paramref name="self"/>: the harness's callers or agents). Started.
    /// </summary>
    public static ProcessSampler ForPipeline(Pipeline pipeline, ServerEnvironment servers, string self)
    {
        var sampler = new ProcessSampler();
        foreach (var service in pipeline.Services)
            sampler.Watch(service.Name, () => service.Pid is { } pid ? [pid] : []);
        if (ListenerPid(servers.RabbitPort) is { } rabbit)
            sampler.Watch("rabbitmq", () => [rabbit]);
        if (ListenerPid(servers.PostgresPort) is { } postmaster)
            sampler.Watch("postgresql", () => WithChildren(postmaster));
        sampler.Watch(self, () => [Environment.ProcessId]);
        sampler.Start();
        return sampler;
    }

    public static double ResidentMb(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return Mb(long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            // Gone.
        }
        return double.NaN;
    }

    /// <summary>The process listening on a TCP port of 127.0.0.1 (from `ss`), e.g. RabbitMQ or the postmaster.</summary>
    public static int? ListenerPid(int port)
    {
        try
        {
            using var ss = Process.Start(new ProcessStartInfo("ss", ["-Hltnp", $"sport = :{port}"]) { RedirectStandardOutput = true })!;
            var output = ss.StandardOutput.ReadToEnd();
            ss.WaitForExit();
            var at = output.IndexOf("pid=", StringComparison.Ordinal);
            if (at < 0)
                return null;
            var end = output.IndexOfAny([',', ')'], at);
            return int.Parse(output[(at + 4)..end], CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or FormatException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>A process and its children (PostgreSQL: the postmaster and every backend).</summary>
    public static IEnumerable<int> WithChildren(int parent)
    {
        yield return parent;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid))
                continue;
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(directory, "stat"));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue;
            }
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (fields.Length > 1 && int.TryParse(fields[1], out var ppid) && ppid == parent)
                yield return pid;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            try
            {
                await _loop;
            }
            catch (OperationCanceledException)
            {
                // Stopped.
            }
        }
        _stop.Dispose();
    }
}
