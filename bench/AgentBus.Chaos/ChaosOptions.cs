using System.Globalization;
using AgentBus.Testbed;

namespace AgentBus.Chaos;

/// <summary>Command-line settings; the servers come from the environment ops/lib/servers.sh writes.</summary>
sealed record ChaosOptions(
    int Actions,
    double Rate,
    int Agents,
    TimeSpan ClaimLease,
    TimeSpan SettleTimeout,
    int SandboxDelayMs,
    string ServersScript,
    bool RestartServers,
    string LogLevel,
    TimeSpan Timeout,
    bool Keep,
    string? ClusterScript = null,
    int NodeKills = 2,
    TimeSpan NodeDownFor = default)
{
    /// <summary>Cluster mode: the faults are RabbitMQ node kills, through this script's `kill N` and `start N`.</summary>
    public bool Cluster => ClusterScript is not null;

    public const string Usage = """
        agentbus-chaos: the real pipeline (policy, two executor copies of an http tool, projections, approvals,
        the sandbox system of record, all as processes) under traffic, while it SIGKILLs and restarts in turn an
        executor copy, the policy service, the projections and the approvals service, then restarts RabbitMQ,
        then PostgreSQL. Afterwards it checks: every action ended (succeeded, failed, outcome unknown or
        denied; none missing), no side effect happened twice (the sandbox's own record), the audit chain
        verifies, and budgets balance against the cost ledger. Exit 0 only when all of that holds.

          --actions 5000            actions to send (the issue's full run); --short: 600
          --short                   the CI run: 600 actions, same faults, shorter gaps
          --rate 40                 actions offered per second (--short: 15)
          --agents 4                agents publishing (each its own broker user and connection)
          --claim-lease 10          seconds before a dead executor's claim makes its action outcome-unknown
          --settle-timeout 180      seconds to wait, after the last fault, for every action to end
          --sandbox-delay-ms 200    how long the sandbox holds each call (so an executor kill lands mid-call)
          --servers-script PATH     restarts a server: PATH restart rabbitmq|postgres (default: ops/lib/servers.sh)
          --no-server-restarts      only the service kills (servers shared with others must never be restarted)
          --log-level Information   services' Logging:LogLevel:Default
          --timeout 1800            stop (and clean up) after this many seconds whatever happens
          --keep                    keep the vhost, database and logs afterwards

        Cluster mode (the servers are a RabbitMQ cluster: AGENTBUS_RABBITMQ_ENDPOINTS and AGENTBUS_RABBITMQ_NODES):
          --cluster-script PATH     ops/lib/cluster.sh: instead of the faults above, SIGKILL under traffic the node serving
                                    most of the run's connections, keep it down, start it and let it rejoin; then another
          --node-kills 2            node kills, one after the other (each chooses again among the live nodes)
          --node-down 5             seconds a killed node stays down before it is started again

        Server restarts run the servers script with this process's environment, and only when
        AGENTBUS_STATE_DIR names a private state folder (not /var/lib/agentbus) and the ports are not the
        defaults 5672/5432: ops/chaos.sh starts such private servers and stops them afterwards.
        """ + "\n" + ServerEnvironment.Help;

    public static ChaosOptions Parse(string[] args)
    {
        var arguments = new RunArguments(args, Usage,
            ["actions", "agents", "claim-lease", "cluster-script", "log-level", "node-down", "node-kills", "rate", "sandbox-delay-ms", "servers-script", "settle-timeout", "timeout"],
            ["keep", "short", "no-server-restarts"]);
        var logLevel = arguments.LogLevel();
        var isShort = arguments.Flag("short");
        var script = arguments.Text("servers-script") ?? DefaultServersScript();
        var restartServers = !arguments.Flag("no-server-restarts");
        var clusterScript = arguments.Text("cluster-script");
        if (clusterScript is not null)
        {
            if (!File.Exists(clusterScript))
                throw new UsageException($"--cluster-script: {clusterScript} does not exist.");
            if (arguments.Text("servers-script") is not null || arguments.Flag("no-server-restarts"))
                throw new UsageException("--cluster-script replaces the server restarts: leave out --servers-script and --no-server-restarts.");
            restartServers = false;
        }
        if (restartServers && !File.Exists(script))
            throw new UsageException($"--servers-script: {script} does not exist.");

        return new ChaosOptions(
            arguments.Int("actions", isShort ? 600 : 5000, 70, 1_000_000),
            arguments.Number("rate", isShort ? 15 : 40, 1, 10_000),
            arguments.Int("agents", 4, 1, 64),
            TimeSpan.FromSeconds(arguments.Int("claim-lease", 10, 3, 600)),
            TimeSpan.FromSeconds(arguments.Int("settle-timeout", 180, 10, 3600)),
            arguments.Int("sandbox-delay-ms", 200, 0, 5000),
            Path.GetFullPath(script),
            restartServers,
            logLevel,
            TimeSpan.FromSeconds(arguments.Int("timeout", 1800, 60, 86_400)),
            arguments.Flag("keep"),
            clusterScript is null ? null : Path.GetFullPath(clusterScript),
            arguments.Int("node-kills", 2, 1, 6),
            TimeSpan.FromSeconds(arguments.Int("node-down", 5, 0, 600)));
    }

    /// <summary>ops/lib/servers.sh of the checkout this program was built in (artifacts/bin/AgentBus.Chaos/CONFIG/).</summary>
    static string DefaultServersScript()
    {
        var bin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var repo = bin.Parent?.Parent?.Parent?.Parent?.FullName ?? ".";
        return Path.Combine(repo, "ops", "lib", "servers.sh");
    }
}
