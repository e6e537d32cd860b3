using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using AgentBus.Audit.Chain;
using AgentBus.Contracts;
using AgentBus.Testbed;
using Dapper;

namespace AgentBus.LoadHarness;

sealed record PhaseResult(
    string Name,
    int Actions,
    int Succeeded,
    int Other,
    double OfferedRate,
    double Seconds,
    double ActionsPerSecond,
    double RecordedPerSecond,
    double SustainedPerSecond,
    LatencySummary Outcome,
    LatencySummary Decision,
    IReadOnlyList<ResourceSummary> Resources,
    string LoadBefore,
    string LoadAfter,
    string? Breakdown);

/// <summary>
/// One load run: a scratch world, the services as processes, K agents, then the phases (warm-up,
/// broker ceiling, throughput, latency at fixed offered rates, soak), each with its own figures and
/// the CPU and memory of every process while it ran.
/// </summary>
sealed class LoadRun(LoadOptions options, ServerEnvironment servers) : IRun
{
    const string Tool = "noop";
    const int ActionsPerRun = 1000;

    readonly string _runTag = "load-" + Guid.NewGuid().ToString("N")[..8];
    readonly List<BenchAgent> _agents = [];
    readonly List<PhaseResult> _phases = [];
    Watchdog? _watchdog;
    Scratch? _scratch;
    Pipeline? _pipeline;
    ProcessSampler? _sampler;
    ActionLedger? _ledger;
    long[] _sentWall = [];
    int _next;
    CeilingResult? _ceiling;
    FloorResult? _floor;
    string _conditions = "";
    string? _work;

    static IReadOnlyList<string> AgentNames(int count) => Enumerable.Range(0, count).Select(i => $"load-agent-{i:D2}").ToList();

    public async Task<int> RunAsync(CancellationToken ct)
    {
        var agents = AgentNames(options.Agents);
        var total = options.WarmupActions + options.ThroughputActions + (int)options.Rates.Sum(r => r * options.RateSeconds)
                    + (int)(options.SoakRate * options.SoakMinutes * 60) + 10;
        _ledger = new ActionLedger(total);
        _sentWall = new long[total];

        _watchdog = new Watchdog(_runTag);
        Log($"Provisioning a scratch vhost and database ({agents.Count} agents, tool '{Tool}')");
        _scratch = await Scratch.CreateAsync(servers, new ScratchSpec("load", agents,
            [new ToolSpec(Tool, new { Kind = "noop", ConcurrentMessageLimit = 16, PrefetchCount = 32, UnitCostUsd = 0.0001m })],
            PolicyYaml(agents)), ct);
        _scratch.Keep = options.Keep;

        var environment = new Dictionary<string, string>();
        if (options.Shadow is { } shadow)
        {
            // agree: the same rules under another version; disagree: a schema no proposal meets, so every verdict is a recorded disagreement.
            var candidate = shadow == "agree"
                ? PolicyYaml(agents) + "\n# shadow candidate: the same rules\n"
                : PolicyYaml(agents).Replace("n: { type: integer, minimum: 0 }", "n: { type: integer, minimum: 0, maximum: -1 }", StringComparison.Ordinal);
            var shadowFile = Path.Combine(_scratch.WorkDirectory, "shadow.yaml");
            await File.WriteAllTextAsync(shadowFile, candidate, ct);
            environment["Policy__ShadowFile"] = shadowFile;
            Log($"Shadow candidate ({shadow}) at {shadowFile}");
        }

        _pipeline = new Pipeline(_scratch, new PipelineOptions
        {
            PolicyInstances = options.PolicyInstances,
            ProjectionsInstances = options.ProjectionsInstances,
            ExecutorCopies = options.ExecutorCopies,
            Approvals = options.Approvals,
            LogLevel = options.LogLevel,
            ConnectionOptions = options.ConnectionOptions,
            Environment = environment,
        }, _runTag).Build();
        Log($"Starting {_pipeline.Services.Count} services (logs in {_scratch.LogsDirectory})");
        await _pipeline.StartAsync(ct);

        _sampler = ProcessSampler.ForPipeline(_pipeline, servers, "harness (agents)");
        // ForPipeline watches the node at RabbitPort only; on a cluster the other nodes hold quorum
        // replicas and serve connections, so their CPU belongs in the per-action cost too.
        foreach (var node in servers.RabbitNodes.Where(n => n.Port != servers.RabbitPort))
            if (ProcessSampler.ListenerPid(node.Port) is { } nodePid)
                _sampler.Watch($"rabbitmq {node}", () => [nodePid]);

        foreach (var agent in agents)
            _agents.Add(await BenchAgent.ConnectAsync(_scratch, agent, _ledger.OnReply, ct));
        _conditions = await ConditionsAsync(ct);
        Log(_conditions.Replace("\n", "\n  ", StringComparison.Ordinal));

        var driver = new ProposalDriver(_agents, _ledger, Proposal) { PublishTimeout = TimeSpan.FromSeconds(30) };

        if (options.WarmupActions > 0)
        {
            await Task.Delay(WorkInventory.Settle, ct);
            var before = await WorkInventory.TakeAsync(_scratch, ct);
            await ClosedPhaseAsync(driver, "warm-up", options.WarmupActions, Math.Min(options.Window, 400), record: false, ct);
            await Task.Delay(WorkInventory.Settle, ct);
            _work = (await WorkInventory.TakeAsync(_scratch, ct)).PerAction(before, options.WarmupActions, "warm-up");
            Log(_work.Replace("\n", "\n  ", StringComparison.Ordinal));
        }

        if (options.CeilingMessages > 0)
        {
            var sizes = await MessageSizesAsync(ct);
            Log($"Broker ceiling: {options.CeilingMessages} MassTransit messages of {string.Join("/", sizes)} bytes ...");
            _ceiling = await BrokerCeiling.MeasureAsync(_scratch, options.CeilingMessages, sizes, ct);
            Log($"  {_ceiling.MessagesPerSecond:0} msg/s");
        }

        if (options.ThroughputActions > 0)
            await ClosedPhaseAsync(driver, "throughput", options.ThroughputActions, options.Window, record: true, ct);

        if (options.FloorSamples > 0 && options.Rates.Length > 0)
        {
            Log($"Floor: {options.FloorSamples} RabbitMQ hops and PostgreSQL commits at {options.Rates[0]:0}/s, nothing of AgentBus between ...");
            try
            {
                _floor = await PathFloor.MeasureAsync(_scratch, options.Rates[0], options.FloorSamples, ct);
                Log($"  hop p50 {_floor.Hop.P50:0.00} ms, commit p50 {_floor.Commit.P50:0.00} ms");
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                // A reference figure beside the run, not part of it: the latency phases still say what they measure.
                Log($"  floor not measured: {ex.GetType().Name}: {ex.Message}");
            }
        }

        foreach (var rate in options.Rates)
            await OpenPhaseAsync(driver, $"latency @ {rate:0}/s", rate, options.RateSeconds, ct);

        if (options.SoakMinutes > 0)
            await OpenPhaseAsync(driver, $"soak @ {options.SoakRate:0}/s for {options.SoakMinutes:0.#} min", options.SoakRate,
                (int)(options.SoakMinutes * 60), ct);

        var problems = await VerifyAsync(driver, ct);
        Report(problems);
        return problems.Count == 0 ? 0 : 1;
    }

    ActionProposed Proposal(int index)
    {
        _sentWall[index] = DateTime.UtcNow.Ticks;
        var agent = index % options.Agents;
        var arguments = JsonSerializer.SerializeToElement(new { n = index, note = "load" });
        return new ActionProposed(_ledger!.ActionId(index), RunId(index), $"load-agent-{agent:D2}", Tool, arguments);
    }

    string RunId(int index) => $"{_runTag}-a{index % options.Agents:D2}-r{index / options.Agents / ActionsPerRun:D4}";

    async Task ClosedPhaseAsync(ProposalDriver driver, string name, int count, int window, bool record, CancellationToken ct)
    {
        var from = _next;
        _next += count;
        Log($"{name}: {count} actions, at most {window} unfinished ...");
        var load = LoadAverage.Now();
        var started = _sampler!.Now;
        var clock = Stopwatch.GetTimestamp();
        await driver.ClosedLoopAsync(from, count, window, ct);
        var ended = await ProposalDriver.WaitForEndsAsync(_ledger!, from, count, TimeSpan.FromMinutes(5), ct);
        var recorded = await WaitRecordedAsync(from, count, clock, ct);
        if (record)
            _phases.Add(await SummarizeAsync(name, from, count, 0, started, load, recorded, ct));
        Log($"  {ended}/{count} ended in {Stopwatch.GetElapsedTime(clock).TotalSeconds:0.0} s");
    }

    async Task OpenPhaseAsync(ProposalDriver driver, string name, double rate, int seconds, CancellationToken ct)
    {
        var count = (int)(rate * seconds);
        var from = _next;
        _next += count;
        Log($"{name}: {count} actions offered at {rate:0}/s ...");
        var load = LoadAverage.Now();
        var started = _sampler!.Now;
        var clock = Stopwatch.GetTimestamp();
        await driver.OpenLoopAsync(from, count, rate, ct);
        await ProposalDriver.WaitForEndsAsync(_ledger!, from, count, TimeSpan.FromMinutes(5), ct);
        var recorded = await WaitRecordedAsync(from, count, clock, ct);
        _phases.Add(await SummarizeAsync(name, from, count, rate, started, load, recorded, ct));
    }

    /// <summary>Seconds from the phase's start until the audit holds every one of its outcomes.</summary>
    async Task<double> WaitRecordedAsync(int from, int count, long clock, CancellationToken ct)
    {
        // Action ids end in the zero-padded index: the phase is one range of the action_id index.
        await using var connection = await _scratch!.Database.OpenConnectionAsync(ct);
        var deadline = DateTime.UtcNow.AddMinutes(5);
        while (DateTime.UtcNow < deadline)
        {
            var done = await connection.ExecuteScalarAsync<long>("""
                SELECT count(*) FROM audit_events
                WHERE action_id >= @first AND action_id < @end AND event_type IN ('ActionSucceeded', 'ActionFailed')
                """, new { first = _ledger!.ActionId(from), end = _ledger.ActionId(from + count) });
            if (done >= count)
                return Stopwatch.GetElapsedTime(clock).TotalSeconds;
            await Task.Delay(100, ct);
        }
        return double.NaN;
    }

    async Task<PhaseResult> SummarizeAsync(string name, int from, int count, double offered, double sampledFrom, string loadBefore,
        double recordedSeconds, CancellationToken ct)
    {
        var ledger = _ledger!;
        var outcome = new List<double>(count);
        var decision = new List<double>(count);
        long first = long.MaxValue, last = 0;
        var succeeded = 0;
        var completions = new List<long>(count);
        for (var i = from; i < from + count; i++)
        {
            var sent = ledger.SentAt(i);
            if (sent != 0)
                first = Math.Min(first, sent);
            if (ledger.End(i) == ActionEnd.Succeeded)
                succeeded++;
            if (ledger.OutcomeAt(i) is var at and not 0)
            {
                outcome.Add(LatencySummary.Ms(sent, at));
                last = Math.Max(last, at);
                completions.Add(at);
            }
            if (ledger.DecidedAt(i) is var decided and not 0)
                decision.Add(LatencySummary.Ms(sent, decided));
        }
        var seconds = Stopwatch.GetElapsedTime(first, last).TotalSeconds;
        var resources = _sampler!.Summarize(sampledFrom, _sampler.Now);
        var breakdown = await BreakdownAsync(from, count, ct);
        var result = new PhaseResult(name, count, succeeded, count - succeeded, offered, seconds, outcome.Count / seconds,
            count / recordedSeconds, Sustained(completions), LatencySummary.Of(outcome), LatencySummary.Of(decision), resources,
            loadBefore, LoadAverage.Now(), breakdown);
        Log($"  {result.ActionsPerSecond:0} actions/s to the agent's outcome, {result.RecordedPerSecond:0}/s to the recorded outcome; " +
            $"p50 {result.Outcome.P50:0.0} ms, p99 {result.Outcome.P99:0.0} ms, max {result.Outcome.Max:0} ms (load {result.LoadAfter})");
        return result;
    }

    /// <summary>The rate in the middle of a phase: completions per second, median of the one-second buckets between 10 % and 90 % of it.</summary>
    static double Sustained(List<long> completions)
    {
        if (completions.Count < 100)
            return double.NaN;
        completions.Sort();
        var start = completions[0];
        var buckets = completions.GroupBy(c => (int)Stopwatch.GetElapsedTime(start, c).TotalSeconds).OrderBy(g => g.Key).Select(g => g.Count()).ToList();
        if (buckets.Count < 5)
            return double.NaN;
        var middle = buckets.Skip(buckets.Count / 10).Take(buckets.Count - 2 * (buckets.Count / 10)).Order().ToList();
        return middle[middle.Count / 2];
    }

    /// <summary>Where the time goes, per hop, from the events' own timestamps in the audit (medians, ms).</summary>
    async Task<string?> BreakdownAsync(int from, int count, CancellationToken ct)
    {
        var sample = Enumerable.Range(from, count).Where(i => i % Math.Max(1, count / 2000) == 0).ToList();
        var ids = sample.Select(_ledger!.ActionId).ToArray();
        await using var connection = await _scratch!.Database.OpenConnectionAsync(ct);
        var rows = (await connection.QueryAsync<(string ActionId, string EventType, DateTime OccurredAt, DateTime RecordedAt)>(
            "SELECT action_id, event_type, occurred_at, recorded_at FROM audit_events WHERE action_id = ANY(@ids)", new { ids })).ToList();
        if (rows.Count == 0)
            return null;
        var byAction = rows.GroupBy(r => r.ActionId).ToDictionary(g => g.Key, g => g.ToDictionary(r => r.EventType));
        var hops = new Dictionary<string, List<double>>
        {
            ["publish→decided"] = [], ["decided→authorized"] = [], ["authorized→started"] = [], ["started→completed"] = [],
            ["completed→agent"] = [], ["completed→recorded"] = [],
        };
        foreach (var index in sample)
        {
            if (!byAction.TryGetValue(_ledger.ActionId(index), out var events)
                || !events.TryGetValue("ActionDecided", out var decided) || !events.TryGetValue("ExecuteTool", out var authorized)
                || !events.TryGetValue("ExecutionStarted", out var started) || !events.TryGetValue("ActionSucceeded", out var completed))
                continue;
            var sentWall = new DateTime(_sentWall[index], DateTimeKind.Utc);
            hops["publish→decided"].Add((decided.OccurredAt - sentWall).TotalMilliseconds);
            hops["decided→authorized"].Add((authorized.OccurredAt - decided.OccurredAt).TotalMilliseconds);
            hops["authorized→started"].Add((started.OccurredAt - authorized.OccurredAt).TotalMilliseconds);
            hops["started→completed"].Add((completed.OccurredAt - started.OccurredAt).TotalMilliseconds);
            var agentAt = sentWall + Stopwatch.GetElapsedTime(_ledger.SentAt(index), _ledger.OutcomeAt(index));
            hops["completed→agent"].Add((agentAt - completed.OccurredAt).TotalMilliseconds);
            hops["completed→recorded"].Add((completed.RecordedAt - completed.OccurredAt).TotalMilliseconds);
        }
        return string.Join(", ", hops.Where(h => h.Value.Count > 0)
            .Select(h => $"{h.Key} {LatencySummary.Of(h.Value).P50:0.0}/{LatencySummary.Of(h.Value).P99:0.0}"));
    }

    /// <summary>Average body sizes of the pipeline's five messages, from the audit of the warm-up.</summary>
    async Task<IReadOnlyList<int>> MessageSizesAsync(CancellationToken ct)
    {
        await using var connection = await _scratch!.Database.OpenConnectionAsync(ct);
        var sizes = (await connection.QueryAsync<int>("""
            SELECT avg(octet_length(payload))::int FROM audit_events
            WHERE event_type IN ('ActionProposed', 'ActionDecided', 'ExecuteTool', 'ExecutionStarted', 'ActionSucceeded')
            GROUP BY event_type ORDER BY event_type
            """)).ToList();
        return sizes.Count > 0 ? sizes : [300, 450, 700, 250, 400];
    }

    async Task<List<string>> VerifyAsync(ProposalDriver driver, CancellationToken ct)
    {
        var problems = new List<string>();
        var ledger = _ledger!;
        var notSucceeded = Enumerable.Range(0, _next).Count(i => ledger.End(i) != ActionEnd.Succeeded);
        if (notSucceeded > 0)
            problems.Add($"{notSucceeded} of {_next} actions did not succeed (decisions: {string.Join(", ", ledger.Reasons.Select(r => $"{r.Key} {r.Value}"))})");
        if (driver.PublishFailures > 0)
            problems.Add($"{driver.PublishFailures} proposals were never confirmed by the broker ({driver.LastFailure})");

        await using var connection = await _scratch!.Database.OpenConnectionAsync(ct);
        var claims = await connection.ExecuteScalarAsync<long>("SELECT count(*) FROM execution_claims WHERE state = 'succeeded'");
        if (claims != _next)
            problems.Add($"execution_claims has {claims} succeeded actions, the agents saw {_next}");
        var verification = await AuditVerifier.VerifyAsync(_scratch.Database, cancellationToken: ct);
        if (!verification.Intact)
            problems.Add($"the audit chain does not verify: {verification.First}");
        Log($"Audit: {verification.RowsChecked} rows, chain {(verification.Intact ? "intact" : "BROKEN")}; execution claims: {claims} succeeded");
        foreach (var service in _pipeline!.Services.Where(s => s.UnexpectedExits > 0 || !s.Running))
            problems.Add($"{service.Name} exited unexpectedly:{Environment.NewLine}{service.Tail(20)}");
        return problems;
    }

    async Task<string> ConditionsAsync(CancellationToken ct)
    {
        var facts = await ServerFacts.ReadAsync(_scratch!, ct);
        var build = _pipeline!.Policy[0].LogFile.Length > 0 && ServiceProcess.Dll("AgentBus.Policy", "agentbus-policy").Contains("/release/", StringComparison.Ordinal)
            ? "Release" : "Debug";
        return $"""
            machine: {facts.Machine}, services {build} build
            RabbitMQ {facts.RabbitVersion} {Brokers()}: durable queues, persistent messages, publisher confirms
            PostgreSQL {facts.Setting("server_version")} on 127.0.0.1:{servers.PostgresPort}: fsync={facts.Setting("fsync")}, synchronous_commit={facts.Setting("synchronous_commit")}, shared_buffers={facts.Setting("shared_buffers")}x8kB
            services: {options.PolicyInstances} policy, {options.ExecutorCopies} noop executor(s), {options.ProjectionsInstances} projections{(options.Approvals ? ", approvals" : "")}; log level {options.LogLevel}; {options.Agents} agents{(options.Shadow is { } shadowMode ? $"; shadow candidate: {shadowMode}" : "")}{(options.ConnectionOptions.Length > 0 ? "; connection options: " + options.ConnectionOptions : "")}
            """;
    }


    string Brokers() => servers.IsCluster
        ? $"on a {servers.RabbitNodes.Count}-node cluster ({servers.RabbitEndpoints})"
        : $"on 127.0.0.1:{servers.RabbitPort}";

    void Report(List<string> problems)
    {
        var text = new StringBuilder();
        text.AppendLine();
        text.AppendLine("## AgentBus load run");
        text.AppendLine();
        text.AppendLine("```");
        text.AppendLine(_conditions);
        text.AppendLine("```");
        text.AppendLine();
        text.AppendLine("| phase | actions | offered/s | to outcome/s | to recorded/s | sustained/s | p50 ms | p95 ms | p99 ms | max ms | decision p50/p99 ms | load before → after |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var p in _phases)
            text.AppendLine($"| {p.Name} | {p.Actions} | {(p.OfferedRate > 0 ? p.OfferedRate.ToString("0", CultureInfo.InvariantCulture) : "max")} | " +
                            $"{p.ActionsPerSecond:0} | {p.RecordedPerSecond:0} | {p.SustainedPerSecond:0} | {p.Outcome.P50:0.0} | {p.Outcome.P95:0.0} | " +
                            $"{p.Outcome.P99:0.0} | {p.Outcome.Max:0} | {DecisionCell(p.Decision)} | {p.LoadBefore} → {p.LoadAfter} |");
        if (_ceiling is { } ceiling)
        {
            text.AppendLine();
            text.AppendLine($"Broker ceiling (plain MassTransit, same broker, bodies of {string.Join("/", ceiling.Sizes)} B, confirms, durable): " +
                            $"**{ceiling.MessagesPerSecond:0} msg/s** published and consumed. One action is 3 publishes and 6 queue deliveries, " +
                            $"so the broker alone bounds the pipeline near {ceiling.MessagesPerSecond / 6:0}–{ceiling.MessagesPerSecond / 3:0} actions/s.");
        }
        if (_floor is { } floor)
        {
            text.AppendLine();
            text.Append(FormattableString.Invariant(
                $"Floor at {floor.Rate:0}/s (same servers, same run, nothing of AgentBus between; p50/p99 ms): RabbitMQ hop, publish → delivered "));
            text.Append(FormattableString.Invariant(
                $"(durable quorum queue, persistent, confirms) {floor.Hop.P50:0.00}/{floor.Hop.P99:0.00}, its confirm {floor.Confirm.P50:0.00}/{floor.Confirm.P99:0.00}; "));
            text.Append(FormattableString.Invariant(
                $"PostgreSQL commit (one autocommitted INSERT, pooled connection) {floor.Commit.P50:0.00}/{floor.Commit.P99:0.00}. An allowed action waits on "));
            text.AppendLine(FormattableString.Invariant(
                $"{FloorResult.HopsOnPath} hops and {FloorResult.CommitsOnPath} commits one after the other (admission, claim, outcome): **{floor.PathP50:0.0} ms** at their medians."));
        }
        if (_work is not null)
        {
            text.AppendLine();
            text.Append(_work);
        }
        foreach (var p in _phases)
        {
            text.AppendLine();
            text.AppendLine($"### {p.Name}: CPU and memory per process");
            if (p.Breakdown is not null)
                text.AppendLine($"Per hop, p50/p99 ms: {p.Breakdown}");
            text.AppendLine();
            text.AppendLine("| process | CPU % (of one core) | CPU ms per action | memory start MB | end MB | max MB | trend MB/min |");
            text.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
            foreach (var r in p.Resources.OrderBy(r => r.Name, StringComparer.Ordinal))
                text.AppendLine($"| {r.Name} | {r.CpuPercent:0} | {r.CpuSeconds * 1000 / p.Actions:0.00} | {r.RssStartMb:0} | {r.RssEndMb:0} | {r.RssMaxMb:0} | {r.RssSlopeMbPerMin:+0.00;-0.00} |");
            text.AppendLine($"| all of the above | {p.Resources.Sum(r => r.CpuPercent):0} | {p.Resources.Sum(r => r.CpuSeconds) * 1000 / p.Actions:0.00} | | | | |");
        }
        text.AppendLine();
        text.AppendLine(problems.Count == 0
            ? "Every action was allowed and succeeded; execution claims and the audit agree; the audit chain verifies; no service exited."
            : "PROBLEMS:" + Environment.NewLine + string.Join(Environment.NewLine, problems.Select(p => "- " + p)));
        Console.WriteLine(text.ToString());
    }

    static string PolicyYaml(IReadOnlyList<string> agents) =>
        RunPolicy.Yaml(agents, "load", """
            tools:
              - name: noop
                capabilities: [read]
                risk: low
                unitCostUsd: 0.0001
                arguments:
                  type: object
                  required: [n]
                  additionalProperties: false
                  properties:
                    n: { type: integer, minimum: 0 }
                    note: { type: string, maxLength: 200 }
            """, Tool);

    static void Log(string message) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");

    // An action allowed at once gets no decision message (its outcome answers it), so only denials and
    // approvals have a decision latency.
    static string DecisionCell(LatencySummary decision) =>
        decision.Count == 0 ? "none sent" : FormattableString.Invariant($"{decision.P50:0.0}/{decision.P99:0.0}");

    public async ValueTask DisposeAsync()
    {
        foreach (var agent in _agents)
            await agent.DisposeAsync();
        if (_sampler is not null)
            await _sampler.DisposeAsync();
        if (_pipeline is not null)
            await _pipeline.DisposeAsync();
        if (_scratch is not null)
            await _scratch.DisposeAsync();
        _watchdog?.Dispose();
    }
}
