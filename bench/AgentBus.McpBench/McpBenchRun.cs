using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using AgentBus.Testbed;
using Dapper;

namespace AgentBus.McpBench;

/// <summary>One call as measured: milliseconds from when it was due (latency runs) or sent (throughput runs) to its answer.</summary>
sealed record CallRecord(double Ms, DateTime StartedUtc, DateTime EndedUtc, string? ActionId);

/// <summary>What one run of one way measured (or its rounds together), with the CPU and memory of every process while it ran.</summary>
sealed record RunFigures(string Way, string Kind, int Calls, double Seconds, LatencySummary Latency, double P90,
    IReadOnlyList<ResourceSummary> Resources, string LoadBefore, string LoadAfter, IReadOnlyList<CallRecord> Records)
{
    /// <summary>The rounds of one way and kind as one run: every call's latency, the calls over the summed time, the CPU summed.</summary>
    public static RunFigures Merge(IReadOnlyList<RunFigures> rounds)
    {
        var records = rounds.SelectMany(r => r.Records).ToList();
        var seconds = rounds.Sum(r => r.Seconds);
        var resources = rounds.SelectMany(r => r.Resources).GroupBy(r => r.Name).Select(g =>
        {
            var cpu = g.Sum(r => r.CpuSeconds);
            return g.First() with { CpuSeconds = cpu, CpuPercent = cpu / seconds * 100, RssEndMb = g.Last().RssEndMb, RssMaxMb = g.Max(r => r.RssMaxMb) };
        }).ToList();
        var ms = records.Select(r => r.Ms).ToList();
        return new RunFigures(rounds[0].Way, rounds[0].Kind, records.Count, seconds, LatencySummary.Of(ms), Percentile(ms, 0.90), resources,
            rounds[0].LoadBefore, rounds[^1].LoadAfter, records);
    }

    public static double Percentile(IEnumerable<double> values, double q)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    public double CallsPerSecond => Calls / Seconds;

    public double CpuPercent(string process) => Resources.Where(r => r.Name == process).Sum(r => r.CpuPercent);

    public double CpuMsPerCall(string? process = null) =>
        Resources.Where(r => process is null || r.Name == process).Sum(r => r.CpuSeconds) * 1000 / Calls;
}

/// <summary>
/// One benchmark run: a scratch world, the pipeline and the MCP gateway as processes, then the same
/// read-only call made three ways (directly to the sandbox, over AMQP with an AgentBus client, through the
/// gateway with the official MCP client), each at a fixed rate and in a closed loop.
/// </summary>
sealed class McpBenchRun(McpBenchOptions options, ServerEnvironment servers) : IRun
{
    const string Tool = "payments";
    const string Direct = "direct HTTP to the sandbox";
    const string Amqp = "AgentBus client over AMQP";
    const string Mcp = "MCP gateway";
    const string GatewayProcess = "mcp-gateway";

    readonly string _runTag = "mcpbench-" + Guid.NewGuid().ToString("N")[..8];
    readonly Dictionary<string, List<IOrderCaller>> _callers = [];
    readonly List<RunFigures> _rounds = [];
    List<RunFigures> _runs = [];
    readonly Dictionary<string, string> _hops = [];
    readonly List<(string When, double Mb)> _gatewayRss = [];
    Watchdog? _watchdog;
    Scratch? _scratch;
    Pipeline? _pipeline;
    ProcessSampler? _sampler;
    Exception? _firstFailure;
    long _answered;
    string _conditions = "";

    bool Failed => Volatile.Read(ref _firstFailure) is not null;

    IReadOnlyList<string> Agents(string prefix) => Enumerable.Range(1, options.Callers).Select(i => $"{prefix}-{i:D2}").ToList();

    public async Task<int> RunAsync(CancellationToken ct)
    {
        var mcpAgents = Agents("mcp-bench");
        var amqpAgents = options.AmqpAgent ? Agents("amqp-bench") : [];
        var agents = mcpAgents.Concat(amqpAgents).ToList();

        _watchdog = new Watchdog(_runTag);
        Log($"Provisioning a scratch vhost and database ({agents.Count} agents granted {Tool}.get_order)");
        // The sandbox's port is known once the pipeline is built: the tool file is written again then. A caller
        // reads the same order again and again in one run (an MCP session is a run), which the policy counts as
        // retries of one action: the limit is lifted so that what is measured is the call, not a denial.
        _scratch = await Scratch.CreateAsync(servers, new ScratchSpec("mcpbench", agents, [new ToolSpec(Tool, ToolSettings(null))],
            RunPolicy.Yaml(agents, "bench", "catalog: catalog", Tool, ["get_order"], maxRetries: 10_000_000)), ct);
        _scratch.Keep = options.Keep;
        var catalog = Directory.CreateDirectory(Path.Combine(_scratch.WorkDirectory, "catalog")).FullName;
        File.Copy(Path.Combine(RepoRoot(), "ops", "catalog", Tool + ".yaml"), Path.Combine(catalog, Tool + ".yaml"));

        _pipeline = new Pipeline(_scratch, new PipelineOptions
        {
            Approvals = false,
            Sandbox = true,
            Gateway = true,
            LogLevel = options.LogLevel,
        }, _runTag).Build();
        var sandbox = _pipeline.SandboxUrl!;
        await File.WriteAllTextAsync(Path.Combine(_scratch.ToolsDirectory, Tool + ".json"),
            JsonSerializer.Serialize(new { Tool = ToolSettings(new Uri(sandbox, "/api").ToString()) }), ct);

        Log($"Starting {_pipeline.Services.Count} processes: {string.Join(", ", _pipeline.Services.Select(s => s.Name))} (logs in {_scratch.LogsDirectory})");
        await _pipeline.StartAsync(ct);

        _sampler = ProcessSampler.ForPipeline(_pipeline, servers, "benchmark (callers)");
        _conditions = await ConditionsAsync(ct);
        Log(_conditions.Replace("\n", "\n  ", StringComparison.Ordinal));

        var apiKey = _scratch.Secrets.GetOrCreate("tools", Tool);
        _callers[Direct] = Enumerable.Range(0, options.Callers).Select(_ => (IOrderCaller)new DirectCaller(sandbox, apiKey)).ToList();
        if (options.AmqpAgent)
        {
            _callers[Amqp] = [];
            foreach (var agent in amqpAgents)
                _callers[Amqp].Add(await AmqpCaller.ConnectAsync(servers.RabbitHost, servers.RabbitPort, _scratch.VirtualHost, agent,
                    _scratch.BrokerPassword(agent), ct));
        }
        GatewayRss("started, no session yet");
        _callers[Mcp] = [];
        foreach (var agent in mcpAgents)
            _callers[Mcp].Add(await McpCaller.ConnectAsync(_pipeline.Gateway!.Url!, agent, _scratch.BrokerPassword(agent), ct));
        GatewayRss($"{options.Callers} sessions open");

        foreach (var (way, callers) in _callers)
        {
            if (options.WarmupSeconds == 0 || Failed)
                break;
            Log($"Warm-up, {way}: {options.Callers} callers for {options.WarmupSeconds} s");
            var warm = await ClosedLoopAsync(callers, options.WarmupSeconds, ct);
            Log($"  {warm.Count} calls");
        }
        GatewayRss("after its warm-up");

        // Rounds in alternating order: the machine is shared and the services keep settling (JIT tiers, pools)
        // after the warm-up, so no way may always come first or last.
        for (var round = 1; round <= options.Rounds && !Failed; round++)
        {
            var order = round % 2 == 1 ? _callers.ToList() : Enumerable.Reverse(_callers).ToList();
            Log($"Round {round}/{options.Rounds}: {string.Join(", ", order.Select(o => ShortName(o.Key)))}");
            foreach (var (way, callers) in order)
                if (!Failed)
                    await MeasureAsync(way, "latency", () => FixedRateAsync(callers, ct));
            foreach (var (way, callers) in order)
                if (!Failed)
                    await MeasureAsync(way, "throughput", () => ClosedLoopAsync(callers, options.ThroughputSeconds, ct));
        }
        GatewayRss("after every run");
        _runs = _rounds.GroupBy(r => (r.Kind, r.Way)).OrderBy(g => g.Key.Kind == "latency" ? 0 : 1)
            .ThenBy(g => _callers.Keys.ToList().IndexOf(g.Key.Way)).Select(g => RunFigures.Merge(g.ToList())).ToList();

        if (!Failed)
            foreach (var run in _runs.Where(r => r.Kind == "latency" && r.Way != Direct))
                _hops[run.Way] = await HopsAsync(run.Records, ct);

        var problems = new List<string>();
        if (_firstFailure is { } failure)
            problems.Add($"a call failed, so the run stopped: {failure.GetType().Name}: {failure.Message}");
        if (!Failed && await SandboxCallsAsync(ct) is var seen && seen != Interlocked.Read(ref _answered))
            problems.Add($"{_answered} calls were answered as succeeded but the sandbox recorded {seen}: some answers did not come from a call to it");
        foreach (var service in _pipeline.Services.Where(s => s.UnexpectedExits > 0 || !s.Running))
            problems.Add($"{service.Name} exited unexpectedly:{Environment.NewLine}{service.Tail(20)}");
        Report(problems);
        return problems.Count == 0 ? 0 : 1;
    }

    /// <summary>Calls the sandbox recorded (one line each), once the count stops changing.</summary>
    async Task<long> SandboxCallsAsync(CancellationToken ct)
    {
        long last = -1;
        for (var i = 0; i < 20; i++)
        {
            var count = File.Exists(_pipeline!.SandboxRecordFile) ? File.ReadLines(_pipeline.SandboxRecordFile).LongCount() : 0;
            if (count == Interlocked.Read(ref _answered) || count == last)
                return count;
            last = count;
            await Task.Delay(250, ct);
        }
        return last;
    }

    static object ToolSettings(string? baseUrl) => new { Kind = "catalog", Catalog = "../catalog", BaseUrl = baseUrl, Resilience = new { MaxRetries = 0 } };

    void GatewayRss(string when)
    {
        if (_pipeline?.Gateway?.Pid is { } pid)
            _gatewayRss.Add((when, ProcessSampler.ResidentMb(pid)));
    }

    async Task MeasureAsync(string way, string kind, Func<Task<List<CallRecord>>> load)
    {
        var sampler = _sampler!;
        var loadBefore = LoadAverage.Now();
        var from = sampler.Now;
        sampler.SampleOnce();
        var clock = Stopwatch.GetTimestamp();
        var records = await load();
        var seconds = Stopwatch.GetElapsedTime(clock).TotalSeconds;
        sampler.SampleOnce();
        var resources = sampler.Summarize(from, sampler.Now);
        var latency = LatencySummary.Of(records.Select(r => r.Ms));
        var run = new RunFigures(way, kind, records.Count, seconds, latency, Percentile(records.Select(r => r.Ms), 0.90), resources, loadBefore,
            LoadAverage.Now(), records);
        _rounds.Add(run);
        Log($"{kind}, {way}: {run.Calls} calls in {seconds:0.0} s ({run.CallsPerSecond:0.0}/s), p50 {latency.P50:0.0} ms, p90 {run.P90:0.0} ms, " +
            $"p99 {latency.P99:0.0} ms; CPU {run.CpuMsPerCall():0.00} ms per call (all processes); load {run.LoadAfter}");
    }

    /// <summary>Open loop: call i is due at i/rate seconds, sent then whatever the earlier calls are doing, timed from when it was due.</summary>
    async Task<List<CallRecord>> FixedRateAsync(IReadOnlyList<IOrderCaller> callers, CancellationToken ct)
    {
        var count = (int)Math.Round(options.Rate * options.RateSeconds);
        var start = Stopwatch.GetTimestamp();
        var calls = new List<Task<CallRecord?>>(count);
        for (var i = 0; i < count && !Failed; i++)
        {
            var due = start + (long)(i / options.Rate * Stopwatch.Frequency);
            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
            if (wait > TimeSpan.Zero)
                await Task.Delay(wait, ct);
            calls.Add(CallAsync(callers[i % callers.Count], due, ct));
        }
        return (await Task.WhenAll(calls)).OfType<CallRecord>().ToList();
    }

    /// <summary>Closed loop: every caller calls again as soon as its call returns, for the given time.</summary>
    async Task<List<CallRecord>> ClosedLoopAsync(IReadOnlyList<IOrderCaller> callers, int seconds, CancellationToken ct)
    {
        var end = Stopwatch.GetTimestamp() + seconds * Stopwatch.Frequency;
        var perCaller = await Task.WhenAll(callers.Select(caller => Task.Run(async () =>
        {
            var mine = new List<CallRecord>();
            while (Stopwatch.GetTimestamp() < end && !Failed)
                if (await CallAsync(caller, Stopwatch.GetTimestamp(), ct) is { } record)
                    mine.Add(record);
            return mine;
        }, ct)));
        return perCaller.SelectMany(r => r).ToList();
    }

    async Task<CallRecord?> CallAsync(IOrderCaller caller, long due, CancellationToken ct)
    {
        var startedUtc = DateTime.UtcNow;
        try
        {
            var actionId = await caller.GetOrderAsync(ct);
            Interlocked.Increment(ref _answered);
            return new CallRecord(LatencySummary.Ms(due, Stopwatch.GetTimestamp()), startedUtc, DateTime.UtcNow, actionId);
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            if (Interlocked.CompareExchange(ref _firstFailure, ex, null) is null)
                Log($"FIRST FAILED CALL: {ex.GetType().Name}: {ex.Message}");
            return null;
        }
    }

    /// <summary>Where an action's time goes, per hop (p50/p99 ms), from the caller's clock and the audit's own timestamps.</summary>
    async Task<string> HopsAsync(IReadOnlyList<CallRecord> records, CancellationToken ct)
    {
        var byId = records.Where(r => r.ActionId is not null).ToDictionary(r => r.ActionId!);
        var ids = byId.Keys.ToArray();
        await using var connection = await _scratch!.Database.OpenConnectionAsync(ct);
        // The projections record an action's events from several queues, and may still be catching up with a throughput run.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline && await connection.ExecuteScalarAsync<long>("""
                   SELECT count(*) FROM audit_events WHERE action_id = ANY(@ids)
                   AND event_type IN ('ActionDecided', 'ExecuteTool', 'ExecutionStarted', 'ActionSucceeded')
                   """, new { ids }) < 4L * ids.Length)
            await Task.Delay(200, ct);
        var rows = (await connection.QueryAsync<(string ActionId, string EventType, DateTime OccurredAt)>(
            "SELECT action_id, event_type, occurred_at FROM audit_events WHERE action_id = ANY(@ids)", new { ids })).ToList();
        var events = rows.GroupBy(r => r.ActionId).ToDictionary(g => g.Key, g => g.GroupBy(r => r.EventType).ToDictionary(e => e.Key, e => e.First().OccurredAt));
        var hops = new Dictionary<string, List<double>>
        {
            ["caller → decided"] = [], ["decided → authorized"] = [], ["authorized → started"] = [], ["started → completed (the HTTP call)"] = [],
            ["completed → caller"] = [],
        };
        foreach (var (id, record) in byId)
        {
            if (!events.TryGetValue(id, out var at) || !at.TryGetValue("ActionDecided", out var decided) || !at.TryGetValue("ExecuteTool", out var authorized)
                || !at.TryGetValue("ExecutionStarted", out var started) || !at.TryGetValue("ActionSucceeded", out var completed))
                continue;
            hops["caller → decided"].Add((decided - record.StartedUtc).TotalMilliseconds);
            hops["decided → authorized"].Add((authorized - decided).TotalMilliseconds);
            hops["authorized → started"].Add((started - authorized).TotalMilliseconds);
            hops["started → completed (the HTTP call)"].Add((completed - started).TotalMilliseconds);
            hops["completed → caller"].Add((record.EndedUtc - completed).TotalMilliseconds);
        }
        return hops.All(h => h.Value.Count == 0)
            ? $"(no complete action in the audit: {events.Count} of {ids.Length} action ids found, with {string.Join(", ", rows.Select(r => r.EventType).Distinct())})"
            : string.Join(", ", hops.Select(h => $"{h.Key} {Percentile(h.Value, 0.5):0.0}/{Percentile(h.Value, 0.99):0.0}")) + $" ({hops.First().Value.Count} calls)";
    }

    static double Percentile(IEnumerable<double> values, double q) => RunFigures.Percentile(values, q);

    async Task<string> ConditionsAsync(CancellationToken ct)
    {
        var facts = await ServerFacts.ReadAsync(_scratch!, ct);
        var build = ServiceProcess.Dll("AgentBus.Mcp", "agentbus-mcp").Contains("/release/", StringComparison.Ordinal) ? "Release" : "Debug";
        return $"""
            machine: {facts.Machine}, services {build} build, every process and both servers on the same cores
            RabbitMQ {facts.RabbitVersion} on 127.0.0.1:{servers.RabbitPort}: durable queues, persistent messages, publisher confirms (both servers' CPU counts all their work, this run's and anything else using them)
            PostgreSQL {facts.Setting("server_version")} on 127.0.0.1:{servers.PostgresPort}: fsync={facts.Setting("fsync")}, synchronous_commit={facts.Setting("synchronous_commit")}
            processes: {string.Join(", ", _pipeline!.Services.Select(s => s.Name))}; log level {options.LogLevel}; policy: the bench agents granted payments.get_order, limits far above the run (run.maxRetries lifted: every call repeats the same read in its run); executor defaults (8 calls at once), no retries, no result cache
            runs: {options.Rounds} round(s), the ways in alternating order; per round and way latency at {options.Rate:0.#} calls/s offered for {options.RateSeconds} s (open loop, round robin over the callers), then throughput with {options.Callers} callers for {options.ThroughputSeconds} s (closed loop); {options.WarmupSeconds} s warm-up per way first
            callers: {options.Callers} per way; MCP: one Streamable HTTP session each (ModelContextProtocol 2.4.0), each its own agent; AMQP: one AgentClient each, its own agent; direct: one HttpClient each
            """;
    }

    void Report(List<string> problems)
    {
        var text = new StringBuilder();
        text.AppendLine();
        text.AppendLine("## The MCP gateway: payments.get_order of ORD-1001, three ways, one run");
        text.AppendLine();
        text.AppendLine("```");
        text.AppendLine(_conditions);
        text.AppendLine("```");
        text.AppendLine();
        var ways = _callers.Keys.ToList();
        RunFigures? Find(string way, string kind) => _runs.FirstOrDefault(r => r.Way == way && r.Kind == kind);
        string Cell(string way, string kind, Func<RunFigures, double> figure, string format) =>
            Find(way, kind) is { } run ? figure(run).ToString(format, CultureInfo.InvariantCulture) : "–";
        string Ratio(string kind, Func<RunFigures, double> figure) =>
            Find(Mcp, kind) is { } mcp && Find(Direct, kind) is { } direct ? Times(figure(mcp) / figure(direct)) : "–";
        string RatioAmqp(string kind, Func<RunFigures, double> figure) =>
            Find(Mcp, kind) is { } mcp && Find(Amqp, kind) is { } amqp ? Times(figure(mcp) / figure(amqp)) : "–";
        var rows = new (string Label, string Kind, Func<RunFigures, double> Figure, string Format)[]
        {
            ($"latency @ {options.Rate:0.#}/s: calls", "latency", r => r.Calls, "0"),
            ("latency p50 ms", "latency", r => r.Latency.P50, "0.0"),
            ("latency p90 ms", "latency", r => r.P90, "0.0"),
            ("latency p99 ms", "latency", r => r.Latency.P99, "0.0"),
            ("latency max ms", "latency", r => r.Latency.Max, "0.0"),
            ($"throughput, {options.Callers} callers: calls/s", "throughput", r => r.CallsPerSecond, "0.0"),
            ("throughput p50 ms", "throughput", r => r.Latency.P50, "0.0"),
            ("throughput p99 ms", "throughput", r => r.Latency.P99, "0.0"),
            ("CPU ms per call, all processes, throughput run", "throughput", r => r.CpuMsPerCall(), "0.00"),
            ($"CPU ms per call, all processes, @ {options.Rate:0.#}/s", "latency", r => r.CpuMsPerCall(), "0.00"),
            ("CPU ms per call, gateway, throughput run", "throughput", r => r.CpuMsPerCall(GatewayProcess), "0.00"),
            ($"CPU ms per call, gateway, @ {options.Rate:0.#}/s", "latency", r => r.CpuMsPerCall(GatewayProcess), "0.00"),
            ("gateway CPU % of one core, throughput run (idle, sessions open, in the other ways' runs)", "throughput", r => r.CpuPercent(GatewayProcess), "0.0"),
            ($"gateway CPU % of one core, @ {options.Rate:0.#}/s (idem)", "latency", r => r.CpuPercent(GatewayProcess), "0.0"),
        };
        var amqp = ways.Contains(Amqp);
        text.AppendLine($"| | {string.Join(" | ", ways)} | gateway ÷ direct |{(amqp ? " gateway ÷ AMQP client |" : "")}");
        text.AppendLine($"|---|{string.Concat(ways.Select(_ => "---:|"))}---:|{(amqp ? "---:|" : "")}");
        foreach (var (label, kind, figure, format) in rows)
        {
            var gatewayOnly = label.StartsWith("CPU ms per call, gateway", StringComparison.Ordinal);
            var noRatio = gatewayOnly || label.StartsWith("gateway", StringComparison.Ordinal) || label.EndsWith("calls", StringComparison.Ordinal);
            text.Append($"| {label} | ");
            text.Append(string.Join(" | ", ways.Select(w => gatewayOnly && w != Mcp ? "–" : Cell(w, kind, figure, format))));
            text.Append($" | {(noRatio ? "" : Ratio(kind, figure))} |");
            if (amqp)
                text.Append($" {(noRatio ? "" : RatioAmqp(kind, figure))} |");
            text.AppendLine();
        }
        text.AppendLine();
        if (options.Rounds > 1)
            text.AppendLine("Per round (calls/s; p50 ms): " + string.Join("; ", _rounds.GroupBy(r => (r.Kind, r.Way)).Select(g =>
                $"{g.Key.Kind} {ShortName(g.Key.Way)} " + string.Join(" / ", g.Select(r => r.Kind == "latency"
                    ? r.Latency.P50.ToString("0.0", CultureInfo.InvariantCulture)
                    : r.CallsPerSecond.ToString("0.0", CultureInfo.InvariantCulture) + " (" + r.Latency.P50.ToString("0.0", CultureInfo.InvariantCulture) + ")")))));
        text.AppendLine("Gateway resident memory (VmRSS): " + string.Join(" → ", _gatewayRss.Select(r => $"{r.Mb:0} MB ({r.When})")));
        foreach (var (way, hops) in _hops)
            text.AppendLine($"Per hop, {way}, latency run (p50/p99 ms; caller's clock and the audit's timestamps): {hops}");
        text.AppendLine();
        text.AppendLine("CPU ms per call of each process (a process idle in a run still counts: its whole CPU over the run divided by the run's calls):");
        text.AppendLine();
        text.AppendLine($"| process | {string.Join(" | ", _runs.Select(r => $"{r.Kind}, {ShortName(r.Way)}"))} |");
        text.AppendLine($"|---|{string.Concat(_runs.Select(_ => "---:|"))}");
        var names = _runs.SelectMany(r => r.Resources.Select(s => s.Name)).Distinct().Order(StringComparer.Ordinal);
        foreach (var name in names)
            text.AppendLine($"| {name} | {string.Join(" | ", _runs.Select(r => r.CpuMsPerCall(name).ToString("0.00", CultureInfo.InvariantCulture)))} |");
        text.AppendLine($"| all of the above | {string.Join(" | ", _runs.Select(r => r.CpuMsPerCall().ToString("0.00", CultureInfo.InvariantCulture)))} |");
        text.AppendLine($"| load average before → after | {string.Join(" | ", _runs.Select(r => $"{r.LoadBefore.Split(' ')[0]} → {r.LoadAfter.Split(' ')[0]}"))} |");
        text.AppendLine();
        text.AppendLine(problems.Count == 0
            ? $"Every call succeeded ({_runs.Sum(r => r.Calls)} measured, {_answered} with the warm-ups) and each was one call the sandbox recorded; no process exited."
            : "PROBLEMS:" + Environment.NewLine + string.Join(Environment.NewLine, problems.Select(p => "- " + p)));
        Console.WriteLine(text.ToString());
    }

    static string Times(double ratio) => ratio.ToString(ratio < 0.1 ? "0.000" : ratio < 10 ? "0.00" : "0", CultureInfo.InvariantCulture) + "×";

    static string ShortName(string way) => way switch
    {
        Direct => "direct",
        Amqp => "AMQP",
        _ => "MCP",
    };

    /// <summary>The checkout the benchmark was built from (artifacts/bin/PROJECT/CONFIG/ is four levels below it).</summary>
    static string RepoRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "AgentBus.sln")))
                return directory.FullName;
        throw new InvalidOperationException($"No AgentBus.sln above {AppContext.BaseDirectory}: run the benchmark from its build output.");
    }

    static void Log(string message) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");

    public async ValueTask DisposeAsync()
    {
        foreach (var caller in _callers.Values.SelectMany(c => c))
        {
            try
            {
                await caller.DisposeAsync();
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException or ObjectDisposedException or OperationCanceledException)
            {
                // The services are about to stop anyway.
            }
        }
        if (_sampler is not null)
            await _sampler.DisposeAsync();
        if (_pipeline is not null)
            await _pipeline.DisposeAsync();
        if (_scratch is not null)
            await _scratch.DisposeAsync();
        _watchdog?.Dispose();
    }
}
