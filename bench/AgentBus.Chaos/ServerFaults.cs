using System.Diagnostics;
using AgentBus.Testbed;

namespace AgentBus.Chaos;

/// <summary>
/// Restarts RabbitMQ or PostgreSQL through ops/lib/servers.sh (`restart rabbitmq|postgres`), or kills
/// and starts a cluster node through ops/lib/cluster.sh (`kill N`, `start N`), with this process's
/// environment, which must name private servers: a fault on the shared ones would break everyone
/// else's work on this machine.
/// </summary>
static class ServerFaults
{
    const string SharedState = "/var/lib/agentbus";

    public static void RequirePrivate(ServerEnvironment servers)
    {
        RequirePrivateState("pass --no-server-restarts");
        if (servers.RabbitPort == 5672 || servers.PostgresPort == 5432)
            throw new UsageException(
                $"Server restarts need private servers, not the default ports (RabbitMQ {servers.RabbitPort}, PostgreSQL {servers.PostgresPort}); " +
                "use ops/chaos.sh or pass --no-server-restarts.");
        if (Environment.GetEnvironmentVariable("AGENTBUS_RABBITMQ_PORT") != servers.RabbitPort.ToString()
            || Environment.GetEnvironmentVariable("AGENTBUS_POSTGRES_PORT") != servers.PostgresPort.ToString())
            throw new UsageException(
                $"AGENTBUS_RABBITMQ_PORT and AGENTBUS_POSTGRES_PORT must be exported and name the servers this run uses " +
                $"({servers.RabbitPort}, {servers.PostgresPort}), so the servers script restarts those and no others.");
    }

    /// <summary>
    /// Node kills need a cluster this run owns: a private state folder (the cluster script finds its
    /// nodes there) and the cluster's node list in the environment, none of them on the shared port.
    /// </summary>
    public static void RequirePrivateCluster(ServerEnvironment servers, IReadOnlyList<string> nodeNames)
    {
        RequirePrivateState("leave out --cluster-script");
        if (!servers.IsCluster)
            throw new UsageException(
                "--cluster-script needs the servers to be a cluster: AGENTBUS_RABBITMQ_ENDPOINTS must list its nodes (source the env file ops/lib/cluster.sh writes).");
        if (servers.RabbitNodes.Any(n => n.Port == 5672) || servers.PostgresPort == 5432)
            throw new UsageException("Node kills need a private cluster, not the shared servers' ports 5672/5432; ops/chaos.sh --cluster starts one.");
        if (nodeNames.Count != servers.RabbitNodes.Count)
            throw new UsageException(
                $"AGENTBUS_RABBITMQ_NODES must name each of the {servers.RabbitNodes.Count} nodes of AGENTBUS_RABBITMQ_ENDPOINTS, in the same order " +
                "(ops/lib/cluster.sh writes both).");
    }

    static void RequirePrivateState(string alternative)
    {
        var state = Environment.GetEnvironmentVariable("AGENTBUS_STATE_DIR");
        if (string.IsNullOrEmpty(state) || Path.TrimEndingDirectorySeparator(Path.GetFullPath(state)) == SharedState)
            throw new UsageException(
                $"Server faults need private servers: AGENTBUS_STATE_DIR must name a state folder other than {SharedState} " +
                $"(ops/chaos.sh starts such servers), or {alternative}.");
    }

    /// <summary>Runs `SCRIPT ARGUMENTS…`, its output appended to <paramref name="logFile"/>; a failure or three minutes is an error.</summary>
    public static async Task RunAsync(string script, IReadOnlyList<string> arguments, string logFile, CancellationToken ct)
    {
        var command = $"{script} {string.Join(' ', arguments)}";
        var start = new ProcessStartInfo("bash") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not run {script}.");
        var output = process.StandardOutput.ReadToEndAsync(ct);
        var errors = process.StandardError.ReadToEndAsync(ct);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{command} did not finish within 3 minutes.");
        }
        var text = await output + await errors;
        await File.AppendAllTextAsync(logFile, text, CancellationToken.None);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{command} exited with {process.ExitCode}:{Environment.NewLine}{text}");
    }
}
