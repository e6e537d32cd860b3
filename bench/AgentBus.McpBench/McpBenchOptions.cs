using AgentBus.Testbed;

namespace AgentBus.McpBench;

/// <summary>Command-line settings; the servers come from the environment ops/lib/servers.sh writes.</summary>
sealed record McpBenchOptions(
    double Rate,
    int RateSeconds,
    int Callers,
    int ThroughputSeconds,
    int WarmupSeconds,
    int Rounds,
    bool AmqpAgent,
    string LogLevel,
    TimeSpan Timeout,
    bool Keep)
{
    public const string Usage = """
        agentbus-mcp-bench: payments.get_order of ORD-1001, a read-only call, three ways in one run, each against
        the same pipeline (policy, projections, payments executor, sandbox shop, MCP gateway, each its own process):
          direct      GET /api/orders/ORD-1001 to the sandbox with the tool's API key (the baseline)
          amqp        proposed by an AgentBus client over AMQP, as its own agent (the pipeline without the gateway)
          mcp         payments_get_order through the gateway with the official C# MCP client, one session per caller
        Each: a latency run at a fixed offered rate (open loop: measured from when the call was due) and a
        closed-loop throughput run (N callers, each calling again as soon as its call returns); CPU and memory
        of every process per call. Any call that does not succeed stops the run with exit code 1.

          --rate 10                 offered calls/s in the latency runs
          --rate-seconds 10         length of each latency run
          --callers 8               concurrent callers (MCP sessions, AMQP agents, HTTP clients) in the throughput runs
          --throughput-seconds 8    length of each throughput run
          --warmup-seconds 5        closed-loop calls before each way's first run (JIT, pools, connections)
          --rounds 2                every run again in the opposite order of the ways; the report pools the rounds
          --short                   a smoke run: --rounds 1 --rate-seconds 5 --throughput-seconds 4 --warmup-seconds 2
          --no-amqp                 skip the AMQP client (direct and MCP only)
          --log-level Information   services' Logging:LogLevel:Default (Information is what ops/run.sh uses)
          --timeout 900             stop (and clean up) after this many seconds whatever happens
          --keep                    keep the vhost, database and logs afterwards

        Build first: dotnet build AgentBus.sln -c Release. The benchmark starts the Release builds next to itself.
        """ + "\n" + ServerEnvironment.Help;

    public static McpBenchOptions Parse(string[] args)
    {
        var arguments = new RunArguments(args, Usage, ["callers", "log-level", "rate", "rate-seconds", "rounds", "throughput-seconds", "timeout", "warmup-seconds"],
            ["keep", "no-amqp", "short"]);
        var isShort = arguments.Flag("short");
        return new McpBenchOptions(
            arguments.Number("rate", 10, 0.5, 1000),
            arguments.Int("rate-seconds", isShort ? 5 : 10, 2, 3600),
            arguments.Int("callers", 8, 1, 128),
            arguments.Int("throughput-seconds", isShort ? 4 : 8, 2, 3600),
            arguments.Int("warmup-seconds", isShort ? 2 : 5, 0, 600),
            arguments.Int("rounds", isShort ? 1 : 2, 1, 20),
            !arguments.Flag("no-amqp"),
            arguments.LogLevel(),
            TimeSpan.FromSeconds(arguments.Int("timeout", 900, 60, 86_400)),
            arguments.Flag("keep"));
    }
}
