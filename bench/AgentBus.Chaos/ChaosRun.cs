using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using AgentBus.Audit.Chain;
using AgentBus.Contracts;
using AgentBus.Testbed;
using Dapper;

namespace AgentBus.Chaos;

/// <summary>
/// One fault as it happened: what, while which action was going out, how long until everything was
/// ready again, and (once the run settled) the longest time after it began in which no action ended.
/// </summary>
sealed record FaultResult(string Name, int AtAction, int SentDuring, double InjectSeconds, double Seconds, string? Problem, long StartedAt)
{
    public double StallSeconds { get; set; }
}

/// <summary>Per agent: budget periods checked against the cost ledger, and those that disagree.</summary>
sealed record BudgetResult(string AgentId, int Periods, IReadOnlyList<string> Mismatches);

/// <summary>
/// One fault run: a scratch world on the run's servers, the services as processes, agents sending at a
/// fixed offered rate, six faults spread over the run (each after its share of the actions went out and
/// the previous one recovered), then the checks the issue asks for, printed as a table.
/// </summary>
sealed class ChaosRun(ChaosOptions options, ServerEnvironment servers) : IRun
{
    const string Tool = "payments";
    const int ActionsPerRun = 200;
    const decimal UnitCostUsd = 0.01m;

    readonly string _runTag = "chaos-" + Guid.NewGuid().ToString("N")[..8];
    readonly List<BenchAgent> _agents = [];
    readonly List<FaultResult> _faults = [];
    readonly ClusterNodes? _nodes = options.ClusterScript is { } script ? new ClusterNodes(script, ClusterNodes.NamesFromEnvironment()) : null;
    Watchdog? _watchdog;
    Scratch? _scratch;
    Pipeline? _pipeline;
    ActionLedger? _ledger;
    string _refundsUrl = "";
    int _sent;
    bool _faulting;

    IReadOnlyList<string> AgentNames => Enumerable.Range(0, options.Agents).Select(i => $"chaos-agent-{i:D2}").ToList();

    public async Task<int> RunAsync(CancellationToken ct)
    {
        var clock = Stopwatch.GetTimestamp();
        _ledger = new ActionLedger(options.Actions);
        _watchdog = new Watchdog(_runTag);
        Log($"Provisioning a scratch vhost and database on RabbitMQ :{servers.RabbitPort} and PostgreSQL :{servers.PostgresPort}");
        // The sandbox's port is known once the pipeline is built: tool file and policy are written again then.
        _scratch = await Scratch.CreateAsync(servers, new ScratchSpec("chaos", AgentNames, [new ToolSpec(Tool, ToolSettings(0))],
            PolicyYaml(AgentNames, 0)), ct);
        _scratch.Keep = options.Keep;

        _pipeline = new Pipeline(_scratch, new PipelineOptions
        {
            ExecutorCopies = 2,
            Approvals = true,
            Sandbox = true,
            LogLevel = options.LogLevel,
            Environment = new Dictionary<string, string>
            {
                ["Executor__ClaimLease"] = options.ClaimLease.ToString("c", CultureInfo.InvariantCulture),
            },
        }, _runTag).Build();
        var sandboxPort = _pipeline.SandboxUrl!.Port;
        _refundsUrl = $"http://127.0.0.1:{sandboxPort}/payments/refunds?delayMs={options.SandboxDelayMs}";
        await File.WriteAllTextAsync(Path.Combine(_scratch.ToolsDirectory, Tool + ".json"),
            JsonSerializer.Serialize(new { Tool = ToolSettings(sandboxPort) }), ct);
        await File.WriteAllTextAsync(_scratch.PolicyFile, PolicyYaml(AgentNames, sandboxPort), ct);

        Log($"Starting {_pipeline.Services.Count} services (logs in {_scratch.LogsDirectory})");
        await _pipeline.StartAsync(ct);
        foreach (var agent in AgentNames)
            _agents.Add(await BenchAgent.ConnectAsync(_scratch, agent, _ledger.OnReply, ct));
        Log($"Ready after {Stopwatch.GetElapsedTime(clock).TotalSeconds:0} s");

        // A proposal the broker did not confirm (it was restarting) is sent again with the same action id.
        var driver = new ProposalDriver(_agents, _ledger, Proposal)
        {
            PublishTimeout = TimeSpan.FromSeconds(10),
            RetryFor = TimeSpan.FromMinutes(5),
        };
        // One sender at the offered rate; fault k strikes once k/(faults+1) of the actions went out and the
        // previous fault recovered. While a fault lasts the sender slows down (it does not stop): traffic
        // flows through every fault without the slow ones (a broker restart) using up the run's actions.
        var faults = Faults();
        var faultRate = Math.Max(2, options.Rate / 5);
        Log($"Sending {options.Actions} actions at {options.Rate:0.#}/s ({faultRate:0.#}/s while a fault lasts) through {options.Agents} agents; " +
            $"{faults.Count} faults, one after each {options.Actions / (faults.Count + 1)} actions");
        var trafficStart = Stopwatch.GetTimestamp();
        var sending = SendAsync(driver, faultRate, ct);
        for (var k = 0; k < faults.Count; k++)
        {
            var threshold = options.Actions * (k + 1) / (faults.Count + 1);
            while (Volatile.Read(ref _sent) < threshold && !sending.IsCompleted)
                await Task.Delay(20, ct);
            await InjectAsync(k + 1, faults, ct);
        }
        await sending;
        Log($"All {options.Actions} proposals sent ({driver.Retries} publishes repeated, {driver.PublishFailures} never confirmed) after " +
            $"{Stopwatch.GetElapsedTime(trafficStart).TotalSeconds:0} s; waiting up to {options.SettleTimeout.TotalSeconds:0} s for every action to end");
        var ended = await ProposalDriver.WaitForEndsAsync(_ledger, 0, options.Actions, options.SettleTimeout, ct);
        Log($"  {ended}/{options.Actions} ended, {Stopwatch.GetElapsedTime(trafficStart).TotalSeconds:0} s after the first proposal");

        MeasureStalls();
        var report = await VerifyAsync(driver, ct);
        report.TotalSeconds = Stopwatch.GetElapsedTime(clock).TotalSeconds;
        Print(report);
        return report.Problems.Count == 0 ? 0 : 1;
    }

    /// <summary>Offers every action at the run's rate, or the slower one while a fault is under way.</summary>
    async Task SendAsync(ProposalDriver driver, double faultRate, CancellationToken ct)
    {
        var publishes = new List<Task>(options.Actions);
        var last = Stopwatch.GetTimestamp();
        var credit = 1.0;
        while (_sent < options.Actions)
        {
            var now = Stopwatch.GetTimestamp();
            credit += Stopwatch.GetElapsedTime(last, now).TotalSeconds * (Volatile.Read(ref _faulting) ? faultRate : options.Rate);
            last = now;
            for (; credit >= 1 && _sent < options.Actions; credit--)
                publishes.Add(driver.PublishAsync(Interlocked.Increment(ref _sent) - 1, now, ct));
            await Task.Delay(5, ct);
        }
        await Task.WhenAll(publishes);
    }

    async Task InjectAsync(int number, List<(string Name, Func<CancellationToken, Task<string?>> Inject)> faults, CancellationToken ct)
    {
        var (name, inject) = faults[number - 1];
        var at = Volatile.Read(ref _sent);
        Volatile.Write(ref _faulting, true);
        Log($"Fault {number}/{faults.Count}: {name} (while action ~{at} goes out; {Ended()} ended so far)");
        var started = Stopwatch.GetTimestamp();
        string? problem = null;
        double injected = 0;
        try
        {
            if (await inject(ct) is { } detail)
                name += $" ({detail})";
            injected = Stopwatch.GetElapsedTime(started).TotalSeconds;
            await AllReadyAsync(TimeSpan.FromMinutes(2), ct);
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException)
        {
            problem = ex.Message;
            Log($"  FAILED: {ex.Message}");
        }
        Volatile.Write(ref _faulting, false);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        _faults.Add(new FaultResult(name, at, Volatile.Read(ref _sent) - at, injected, seconds, problem, started));
        Log($"  done in {injected:0.0} s; every service ready again after {seconds:0.0} s");
    }

    /// <summary>
    /// Per fault, the longest stretch from its start until the next fault began (or the last action
    /// ended) in which no action ended for its agent: how long the fault stalled the pipeline. At the
    /// slower rate offered during a fault the gap between ends is a few hundred ms anyway.
    /// </summary>
    void MeasureStalls()
    {
        var ends = Enumerable.Range(0, options.Actions).Select(_ledger!.OutcomeAt).Where(t => t != 0).Order().ToArray();
        for (var k = 0; k < _faults.Count; k++)
        {
            var from = _faults[k].StartedAt;
            var to = k + 1 < _faults.Count ? _faults[k + 1].StartedAt : ends.LastOrDefault(from);
            long previous = from, longest = 0;
            foreach (var end in ends.Where(t => t > from && t <= to))
            {
                longest = Math.Max(longest, end - previous);
                previous = end;
            }
            if (previous == from)
                longest = to - from;
            _faults[k].StallSeconds = longest / (double)Stopwatch.Frequency;
        }
    }

    int Ended()
    {
        var n = 0;
        for (var i = 0; i < options.Actions; i++)
            if (_ledger!.OutcomeAt(i) != 0)
                n++;
        return n;
    }

    /// <summary>The faults in the order they strike; each answers a detail for the report (which node), or null.</summary>
    List<(string Name, Func<CancellationToken, Task<string?>> Inject)> Faults()
    {
        if (_nodes is not null)
            return Enumerable.Range(0, options.NodeKills)
                .Select(_ => ($"SIGKILL a RabbitMQ node, {options.NodeDownFor.TotalSeconds:0} s down, start + rejoin",
                    (Func<CancellationToken, Task<string?>>)KillNodeAsync))
                .ToList();

        var pipeline = _pipeline!;
        var list = new List<(string, Func<CancellationToken, Task<string?>>)>
        {
            ($"SIGKILL + restart {pipeline.Executors[0].Name} mid-call", async ct =>
            {
                await WaitForCallInFlightAsync($"{Tool}-1", ct);
                return await KillAndRestartAsync(pipeline.Executors[0], ct);
            }),
            ("SIGKILL + restart policy", ct => KillAndRestartAsync(pipeline.Policy[0], ct)),
            ("SIGKILL + restart projections", ct => KillAndRestartAsync(pipeline.Projections[0], ct)),
            ("SIGKILL + restart approvals", ct => KillAndRestartAsync(pipeline.Approvals!, ct)),
        };
        if (options.RestartServers)
        {
            list.Add(("restart RabbitMQ", ct => RestartServerAsync("rabbitmq", ct)));
            list.Add(("restart PostgreSQL", ct => RestartServerAsync("postgres", ct)));
        }
        return list;
    }

    static async Task<string?> KillAndRestartAsync(ServiceProcess service, CancellationToken ct)
    {
        await service.KillAsync();
        // Long enough for deliveries in flight to go back to the queue and the other copy (if any) to take them.
        await Task.Delay(TimeSpan.FromSeconds(1), ct);
        await service.StartAsync(ct, TimeSpan.FromMinutes(2));
        return null;
    }

    /// <summary>
    /// SIGKILL of the node most of the run's connections use: its clients must move to a survivor and
    /// the quorum queues it led elect new leaders, all under traffic; after a while down it is started
    /// on its data and rejoins.
    /// </summary>
    async Task<string?> KillNodeAsync(CancellationToken ct)
    {
        var log = Path.Combine(_scratch!.LogsDirectory, "cluster.log");
        var (node, connections) = await _nodes!.ChooseAsync(_scratch, ct);
        var name = _nodes.Names[node - 1];
        Log($"  killing node {node} ({name}), which serves {connections} of the run's connections");
        await _nodes.KillAsync(node, log, ct);
        await Task.Delay(options.NodeDownFor, ct);
        var starting = Stopwatch.GetTimestamp();
        await _nodes.StartAsync(node, log, ct);
        Log($"  node {node} started and rejoined in {Stopwatch.GetElapsedTime(starting).TotalSeconds:0.0} s");
        return $"{name}, {connections} connections";
    }

    /// <summary>Until the executor copy holds a running claim (a call under way), at most ten seconds: the kill should land mid-call.</summary>
    async Task WaitForCallInFlightAsync(string executor, CancellationToken ct)
    {
        await using var connection = await _scratch!.Database.OpenConnectionAsync(ct);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            var running = await connection.ExecuteScalarAsync<long>(
                "SELECT count(*) FROM execution_claims WHERE state = 'running' AND executor = @executor", new { executor });
            if (running > 0)
            {
                Log($"  {executor} has {running} call(s) under way");
                return;
            }
            await Task.Delay(20, ct);
        }
        Log($"  {executor} had no call under way within 10 s; killing it anyway");
    }

    async Task<string?> RestartServerAsync(string server, CancellationToken ct)
    {
        await ServerFaults.RunAsync(options.ServersScript, ["restart", server], Path.Combine(_scratch!.LogsDirectory, "servers.log"), ct);
        if (server == "postgres")
            _scratch.Database.Clear();
        return null;
    }

    /// <summary>Waits until every service answers ready (broker and database reachable again).</summary>
    async Task AllReadyAsync(TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var notReady = new List<string>();
            foreach (var service in _pipeline!.Services)
                if (!await service.IsReadyAsync(ct))
                    notReady.Add(service.Name + (service.Running ? "" : " (exited)"));
            if (notReady.Count == 0)
                return;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"not ready after {timeout.TotalSeconds:0} s: {string.Join(", ", notReady)}");
            await Task.Delay(250, ct);
        }
    }

    ActionProposed Proposal(int index)
    {
        var agent = index % options.Agents;
        var arguments = JsonSerializer.SerializeToElement(new
        {
            method = "POST",
            url = _refundsUrl,
            body = new { orderId = $"ORD-{index:D7}", amountUsd = 1.25m },
        });
        return new ActionProposed(_ledger!.ActionId(index), $"{_runTag}-a{agent:D2}-r{index / options.Agents / ActionsPerRun:D3}",
            AgentNames[agent], Tool, arguments);
    }

    sealed class Report
    {
        public List<string> Problems { get; } = [];
        public Dictionary<string, int> Ends { get; } = [];
        public int Missing;
        public int PublishRetries;
        public int PublishFailures;
        public int SandboxCalls;
        public int SandboxDistinct;
        public int SandboxDuplicated;
        public int SucceededWithoutCall;
        public int FailedWithCall;
        public int UnknownWithCall;
        public int UnknownWithoutCall;
        public long AuditRows;
        public bool ChainIntact;
        public long AuditOutcomes;
        public Dictionary<string, long> Claims { get; } = [];
        public Dictionary<string, long> Ledger { get; } = [];
        public List<BudgetResult> Budgets { get; } = [];
        public List<(string Service, int Restarts, int Unexpected, bool Running)> Services { get; } = [];
        public IReadOnlyList<(string Service, string Line)> Alarms { get; set; } = [];
        public double TotalSeconds;
    }

    async Task<Report> VerifyAsync(ProposalDriver driver, CancellationToken ct)
    {
        var report = new Report();
        var ledger = _ledger!;
        var n = options.Actions;
        foreach (var end in new[] { ActionEnd.Succeeded, ActionEnd.Failed, ActionEnd.OutcomeUnknown, ActionEnd.Denied })
            report.Ends[end.ToString()] = ledger.Count(end, 0, n);
        var missing = Enumerable.Range(0, n).Where(i => ledger.OutcomeAt(i) == 0).ToList();
        report.Missing = missing.Count;
        report.PublishRetries = driver.Retries;
        report.PublishFailures = driver.PublishFailures;
        if (missing.Count > 0)
            report.Problems.Add($"{missing.Count} actions never ended for their agent: {await DescribeAsync(missing.Take(5), ct)}");
        if (driver.PublishFailures > 0)
            report.Problems.Add($"{driver.PublishFailures} proposals were never confirmed by the broker ({driver.LastFailure})");
        if (report.Ends["Denied"] > 0)
            report.Problems.Add($"{report.Ends["Denied"]} actions were denied although the policy allows every one " +
                                $"(reasons: {string.Join(", ", ledger.Reasons.Select(r => $"{r.Key} {r.Value}"))})");

        // The system of record's own account: every call it received, by action id.
        var calls = ReadSandboxCalls();
        report.SandboxCalls = calls.Sum(c => c.Value.Count);
        report.SandboxDistinct = calls.Count;
        report.SandboxDuplicated = calls.Count(c => c.Value.Count > 1);
        if (report.SandboxDuplicated > 0)
            report.Problems.Add($"{report.SandboxDuplicated} actions reached the sandbox more than once: " +
                                string.Join(", ", calls.Where(c => c.Value.Count > 1).Take(5).Select(c => $"{c.Key} ×{c.Value.Count}")));
        var foreign = calls.Keys.Count(id => !ledger.TryIndex(id, out _));
        if (foreign > 0)
            report.Problems.Add($"{foreign} sandbox calls carry an action id this run never proposed");
        for (var i = 0; i < n; i++)
        {
            var called = calls.TryGetValue(ledger.ActionId(i), out var statuses);
            switch (ledger.End(i))
            {
                case ActionEnd.Succeeded when !called:
                    report.SucceededWithoutCall++;
                    break;
                case ActionEnd.Failed when called && statuses!.Any(s => s is >= 200 and < 300):
                    report.FailedWithCall++;
                    break;
                case ActionEnd.OutcomeUnknown when called:
                    report.UnknownWithCall++;
                    break;
                case ActionEnd.OutcomeUnknown:
                    report.UnknownWithoutCall++;
                    break;
            }
        }
        if (report.SucceededWithoutCall > 0)
            report.Problems.Add($"{report.SucceededWithoutCall} actions succeeded for their agent but the sandbox never received them");
        if (report.FailedWithCall > 0)
            report.Problems.Add($"{report.FailedWithCall} actions were reported failed (not outcome-unknown) although the sandbox took the call");

        await using var connection = await _scratch!.Database.OpenConnectionAsync(ct);
        report.AuditOutcomes = await WaitAuditOutcomesAsync(connection, n, ct);
        if (report.AuditOutcomes < n)
            report.Problems.Add($"the audit records an outcome for {report.AuditOutcomes} of {n} actions");
        var verification = await AuditVerifier.VerifyAsync(_scratch.Database, cancellationToken: ct);
        report.AuditRows = verification.RowsChecked;
        report.ChainIntact = verification.Intact;
        if (!verification.Intact)
            report.Problems.Add($"the audit chain does not verify: {verification.ProblemsFound} problems, first: {verification.First}");

        foreach (var (state, count) in await connection.QueryAsync<(string, long)>("SELECT state, count(*) FROM execution_claims GROUP BY state"))
            report.Claims[state] = count;
        foreach (var (status, count) in await connection.QueryAsync<(string, long)>("SELECT status, count(*) FROM cost_ledger GROUP BY status"))
            report.Ledger[status] = count;
        if (report.Claims.GetValueOrDefault("running") > 0)
            report.Problems.Add($"{report.Claims["running"]} execution claims are still running");
        if (report.Ledger.GetValueOrDefault("reserved") > 0)
            report.Problems.Add($"{report.Ledger["reserved"]} cost reservations were never settled or released");

        report.Budgets.AddRange(await BudgetsAsync(connection, ct));
        foreach (var budget in report.Budgets.Where(b => b.Mismatches.Count > 0))
            report.Problems.Add($"budgets of {budget.AgentId} do not balance: {string.Join("; ", budget.Mismatches.Take(3))}");

        foreach (var service in _pipeline!.Services)
        {
            report.Services.Add((service.Name, service.Starts - 1, service.UnexpectedExits, service.Running));
            if (service.UnexpectedExits > 0 || !service.Running)
                report.Problems.Add($"{service.Name} exited without being killed:{Environment.NewLine}{service.Tail(20)}");
        }
        foreach (var fault in _faults.Where(f => f.Problem is not null))
            report.Problems.Add($"{fault.Name}: {fault.Problem}");
        foreach (var fault in _faults.Where(f => f.SentDuring == 0))
            report.Problems.Add($"{fault.Name}: no proposal went out while it lasted (the run did not test it under traffic)");
        report.Alarms = _pipeline.AlarmingLogLines();
        return report;
    }

    /// <summary>The sandbox's record file: HTTP status of every call to the refunds API, by action id.</summary>
    Dictionary<string, List<int>> ReadSandboxCalls()
    {
        var calls = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        var file = _pipeline!.SandboxRecordFile;
        if (!File.Exists(file))
            return calls;
        foreach (var line in File.ReadLines(file))
        {
            if (line.Length == 0)
                continue;
            using var call = JsonDocument.Parse(line);
            var root = call.RootElement;
            if (root.GetProperty("Path").GetString() != "/payments/refunds")
                continue;
            var actionId = root.GetProperty("ActionId").GetString() ?? "(none)";
            if (!calls.TryGetValue(actionId, out var statuses))
                calls[actionId] = statuses = [];
            statuses.Add(root.GetProperty("Status").GetInt32());
        }
        return calls;
    }

    /// <summary>Seconds-bounded wait until the projections have recorded an outcome for every action.</summary>
    static async Task<long> WaitAuditOutcomesAsync(Npgsql.NpgsqlConnection connection, int expected, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var recorded = await connection.ExecuteScalarAsync<long>(
                "SELECT count(DISTINCT action_id) FROM audit_events WHERE event_type IN ('ActionSucceeded', 'ActionFailed')");
            if (recorded >= expected || DateTime.UtcNow > deadline)
                return recorded;
            await Task.Delay(500, ct);
        }
    }

    /// <summary>
    /// Every budget counter against the cost ledger it summarises: per agent and period (day and run),
    /// spent = the settled rows' amounts, reserved = the still-reserved rows' reservations.
    /// </summary>
    static async Task<List<BudgetResult>> BudgetsAsync(Npgsql.NpgsqlConnection connection, CancellationToken ct)
    {
        var rows = await connection.QueryAsync<(string Agent, string Period, decimal UsageSpent, decimal LedgerSpent, decimal UsageReserved, decimal LedgerReserved)>(
            new CommandDefinition("""
                WITH entries AS (
                    SELECT agent_id, 'day:' || to_char(day, 'YYYY-MM-DD') AS period, status, reserved_usd, amount_usd FROM cost_ledger
                    UNION ALL
                    SELECT agent_id, 'run:' || run_id, status, reserved_usd, amount_usd FROM cost_ledger
                ), sums AS (
                    SELECT agent_id, period,
                           sum(CASE WHEN status = 'settled' THEN amount_usd ELSE 0 END) AS spent,
                           sum(CASE WHEN status = 'reserved' THEN reserved_usd ELSE 0 END) AS reserved
                    FROM entries GROUP BY agent_id, period
                )
                SELECT coalesce(u.agent_id, s.agent_id), coalesce(u.period, s.period),
                       coalesce(u.spent_usd, 0), coalesce(s.spent, 0), coalesce(u.reserved_usd, 0), coalesce(s.reserved, 0)
                FROM budget_usage u FULL JOIN sums s ON s.agent_id = u.agent_id AND s.period = u.period
                ORDER BY 1, 2
                """, cancellationToken: ct));
        return rows.GroupBy(r => r.Agent).Select(g => new BudgetResult(g.Key, g.Count(), g
                .Where(r => r.UsageSpent != r.LedgerSpent || r.UsageReserved != r.LedgerReserved)
                .Select(r => $"{r.Period}: spent {r.UsageSpent} vs ledger {r.LedgerSpent}, reserved {r.UsageReserved} vs ledger {r.LedgerReserved}")
                .ToList()))
            .ToList();
    }

    /// <summary>What the database knows about actions their agents never saw end.</summary>
    async Task<string> DescribeAsync(IEnumerable<int> indexes, CancellationToken ct)
    {
        var ids = indexes.Select(_ledger!.ActionId).ToArray();
        await using var connection = await _scratch!.Database.OpenConnectionAsync(ct);
        var rows = (await connection.QueryAsync<(string ActionId, string? Decision, string? Outcome, string? Claim, string? Events)>("""
            SELECT i AS action_id, p.decision, p.outcome, c.state,
                   (SELECT string_agg(event_type, ',' ORDER BY seq) FROM audit_events a WHERE a.action_id = i)
            FROM unnest(@ids) AS i
            LEFT JOIN policy_actions p ON p.action_id = i
            LEFT JOIN execution_claims c ON c.action_id = i
            """, new { ids })).ToList();
        return string.Join("; ", rows.Select(r =>
            $"{r.ActionId}: decision {r.Decision ?? "none"}, policy outcome {r.Outcome ?? "none"}, claim {r.Claim ?? "none"}, audit [{r.Events}]"));
    }

    void Print(Report r)
    {
        var n = options.Actions;
        var text = new StringBuilder();
        text.AppendLine();
        text.AppendLine($"## AgentBus fault run{(options.Cluster ? $" on a {_nodes!.Names.Count}-node RabbitMQ cluster" : "")}: {n} actions at {options.Rate:0.#}/s, {options.Agents} agents, {r.TotalSeconds:0} s in all");
        text.AppendLine();
        text.AppendLine("| fault | at action | sent while it lasted | kill+start / restart s | every service ready after s | longest time no action ended s | |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---|");
        foreach (var f in _faults)
            text.AppendLine($"| {f.Name} | {f.AtAction} | {f.SentDuring} | {f.InjectSeconds:0.0} | {f.Seconds:0.0} | {f.StallSeconds:0.0} | {(f.Problem is null ? "ok" : "FAILED")} |");
        text.AppendLine();
        text.AppendLine("| check | figure |");
        text.AppendLine("|---|---|");
        text.AppendLine($"| actions | {n} |");
        text.AppendLine($"| succeeded | {r.Ends["Succeeded"]} |");
        text.AppendLine($"| failed | {r.Ends["Failed"]} |");
        text.AppendLine($"| outcome unknown | {r.Ends["OutcomeUnknown"]} (sandbox took {r.UnknownWithCall} of them, never saw {r.UnknownWithoutCall}) |");
        text.AppendLine($"| denied | {r.Ends["Denied"]} |");
        text.AppendLine($"| **missing** | **{r.Missing}** |");
        text.AppendLine($"| publishes repeated / never confirmed | {r.PublishRetries} / {r.PublishFailures} |");
        text.AppendLine($"| sandbox calls: total / distinct actions / **duplicated** | {r.SandboxCalls} / {r.SandboxDistinct} / **{r.SandboxDuplicated}** |");
        text.AppendLine($"| succeeded without a sandbox call / failed after one | {r.SucceededWithoutCall} / {r.FailedWithCall} |");
        text.AppendLine($"| execution claims | {string.Join(", ", r.Claims.OrderBy(c => c.Key).Select(c => $"{c.Key} {c.Value}"))} |");
        text.AppendLine($"| audit rows / chain | {r.AuditRows} / {(r.ChainIntact ? "intact" : "BROKEN")} |");
        text.AppendLine($"| actions with an audited outcome | {r.AuditOutcomes} |");
        text.AppendLine($"| cost ledger | {string.Join(", ", r.Ledger.OrderBy(c => c.Key).Select(c => $"{c.Key} {c.Value}"))} |");
        foreach (var b in r.Budgets)
            text.AppendLine($"| budgets {b.AgentId} | {b.Periods} periods, {(b.Mismatches.Count == 0 ? "balance" : $"{b.Mismatches.Count} MISMATCHES")} |");
        text.AppendLine();
        text.AppendLine("| service | restarts | unexpected exits | running |");
        text.AppendLine("|---|---:|---:|---|");
        foreach (var s in r.Services)
            text.AppendLine($"| {s.Service} | {s.Restarts} | {s.Unexpected} | {(s.Running ? "yes" : "NO")} |");
        if (r.Alarms.Count > 0)
        {
            text.AppendLine();
            text.AppendLine("Log lines worth a look (not failures by themselves):");
            foreach (var (service, line) in r.Alarms.Take(10))
                text.AppendLine($"  {service}: {(line.Length > 240 ? line[..240] + " …" : line)}");
        }
        text.AppendLine();
        text.AppendLine(r.Problems.Count == 0
            ? "PASS: every action ended, no side effect happened twice, the audit chain verifies, budgets balance, no service crashed on its own."
            : "FAIL:" + Environment.NewLine + string.Join(Environment.NewLine, r.Problems.Select(p => "- " + p)));
        Console.WriteLine(text.ToString());
    }

    static object ToolSettings(int sandboxPort) => new
    {
        Kind = "http",
        UnitCostUsd,
        ConcurrentMessageLimit = 8,
        PrefetchCount = 16,
        Idempotent = false,
        Resilience = new { AttemptTimeout = "00:00:10", TotalTimeout = "00:00:20", MaxRetries = 2, RetryDelay = "00:00:00.250" },
        Http = new { AllowedHosts = new[] { $"127.0.0.1:{sandboxPort}" }, SecretHeader = "X-Api-Key", SecretPrefix = "", ExternalReferenceProperty = "id" },
    };

    static string PolicyYaml(IReadOnlyList<string> agents, int sandboxPort) =>
        RunPolicy.Yaml(agents, "chaos", $$"""
            tools:
              - name: payments
                capabilities: [money.move]
                risk: high
                unitCostUsd: {{UnitCostUsd.ToString(CultureInfo.InvariantCulture)}}
                arguments:
                  type: object
                  required: [method, url, body]
                  additionalProperties: false
                  properties:
                    method: { enum: [POST] }
                    url: { type: string, maxLength: 2048 }
                    body:
                      type: object
                      required: [orderId, amountUsd]
                      properties:
                        orderId: { type: string, pattern: "^ORD-[0-9A-Z-]{1,32}$" }
                        amountUsd: { type: number, exclusiveMinimum: 0 }
                destinations:
                  from: [/url]
                  urlPrefixes: [ "http://127.0.0.1:{{sandboxPort}}/payments/" ]
            """, "payments");

    static void Log(string message) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");

    public async ValueTask DisposeAsync()
    {
        foreach (var agent in _agents)
            await agent.DisposeAsync();
        if (_pipeline is not null)
            await _pipeline.DisposeAsync();
        if (_scratch is not null)
            await _scratch.DisposeAsync();
        _watchdog?.Dispose();
    }
}
