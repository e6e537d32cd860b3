using AgentBus.Testbed;

namespace AgentBus.LoadHarness;

/// <summary>Command-line settings; the servers come from the environment ops/lib/servers.sh writes.</summary>
sealed record LoadOptions(
    int Agents,
    int ExecutorCopies,
    int PolicyInstances,
    int ProjectionsInstances,
    bool Approvals,
    int WarmupActions,
    int ThroughputActions,
    int Window,
    double[] Rates,
    int RateSeconds,
    double SoakMinutes,
    double SoakRate,
    int CeilingMessages,
    int FloorSamples,
    string LogLevel,
    string ConnectionOptions,
    TimeSpan Timeout,
    bool Keep,
    string? Shadow = null)
{
    public const string Usage = """
        agentbus-load-harness: the real pipeline under load (policy, noop executor, projections, approvals as
        separate processes; agents on their own broker users), with throughput, latency percentiles, CPU and
        memory per process, and MassTransit's own ceiling on the same broker for comparison.

          --agents 16               agents publishing (each its own broker user and connection)
          --executors 2             copies of the noop tool's executor
          --policy-instances 1      policy service instances
          --projections 1           copies of the projections service (competing consumers of the audit feed)
          --no-approvals            do not start the approvals service
          --warmup 3000             actions before anything is measured (JIT, pools, caches)
          --throughput 30000        actions sent as fast as they finish (0: skip)
          --window 800              at most this many unfinished actions during the throughput phase
          --rates 500               offered rates (actions/s, comma-separated) for the latency phases (empty: skip)
          --rate-seconds 30         length of each latency phase
          --soak-minutes 0          memory run: offered --soak-rate for this long (10 for the issue's check)
          --soak-rate 500
          --ceiling 20000           messages for the broker-ceiling measurement (0: skip)
          --floor-samples 300       the servers' own floor at the first latency rate, before that phase: this many
                                    RabbitMQ hops and PostgreSQL commits with nothing of AgentBus between (0: skip)
          --log-level Information   services' Logging:LogLevel:Default (Information is what ops/run.sh uses)
          --db-options ""           appended to every service's connection string, e.g. "Max Auto Prepare=0"
          --timeout 3600            stop (and clean up) after this many seconds whatever happens
          --keep                    keep the vhost, database and logs afterwards
          --shadow MODE             run a shadow candidate beside the policy (Policy:ShadowFile): agree (the same rules:
                                    every verdict counted, none recorded) or disagree (denies everything: every verdict
                                    recorded as a disagreement, the worst case)

        Build first: dotnet build AgentBus.sln -c Release. The harness starts the Release builds next to itself.
        """ + "\n" + ServerEnvironment.Help;

    public static LoadOptions Parse(string[] args)
    {
        var arguments = new RunArguments(args, Usage, ["agents", "ceiling", "db-options", "executors", "floor-samples", "log-level", "policy-instances", "projections", "rate-seconds", "rates", "shadow", "soak-minutes", "soak-rate", "throughput", "timeout", "warmup", "window"], ["keep", "no-approvals"]);
        var rates = (arguments.Text("rates") ?? "500").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(r => double.TryParse(r, System.Globalization.CultureInfo.InvariantCulture, out var v) && v is > 0 and <= 100_000
                ? v
                : throw new UsageException("--rates takes actions per second from 1 to 100000, e.g. 250,500,1000."))
            .ToArray();
        var logLevel = arguments.LogLevel();

        return new LoadOptions(
            arguments.Int("agents", 16, 1, 256),
            arguments.Int("executors", 2, 1, 16),
            arguments.Int("policy-instances", 1, 1, 8),
            arguments.Int("projections", 1, 1, 8),
            !arguments.Flag("no-approvals"),
            arguments.Int("warmup", 3000, 0, 1_000_000),
            arguments.Int("throughput", 30_000, 0, 10_000_000),
            arguments.Int("window", 800, 1, 100_000),
            rates,
            arguments.Int("rate-seconds", 30, 5, 3600),
            arguments.Number("soak-minutes", 0, 0, 240),
            arguments.Number("soak-rate", 500, 1, 100_000),
            arguments.Int("ceiling", 20_000, 0, 10_000_000),
            arguments.Int("floor-samples", 300, 0, 100_000),
            logLevel,
            arguments.Text("db-options") ?? "",
            TimeSpan.FromSeconds(arguments.Int("timeout", 3600, 60, 86_400)),
            arguments.Flag("keep"),
            arguments.Text("shadow") switch
            {
                null or "" => null,
                "agree" => "agree",
                "disagree" => "disagree",
                var other => throw new UsageException($"--shadow takes agree or disagree, not '{other}'."),
            });
    }
}
