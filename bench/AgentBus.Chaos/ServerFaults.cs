using System.Diagnostics;
using AgentBus.Testbed;

namespace AgentBus.Chaos;

/// <summary>
/// Restarts RabbitMQ or PostgreSQL through ops/lib/servers.sh (`restart rabbitmq|postgres`) with this
/// process's environment, which must name private servers: a restart of the shared ones would break
/// everyone else's work on this machine.
/// </summary>
static class ServerFaults
{
    const string SharedState = "/var/lib/agentbus";

    public static void RequirePrivate(ServerEnvironment servers)
    {
        var state = Environment.GetEnvironmentVariable("AGENTBUS_STATE_DIR");
        if (string.IsNullOrEmpty(state) || Path.TrimEndingDirectorySeparator(Path.GetFullPath(state)) == SharedState)
            throw new UsageException(
                $"Server restarts need private servers: AGENTBUS_STATE_DIR must name a state folder other than {SharedState} " +
                "(ops/chaos.sh starts such servers), or pass --no-server-restarts.");
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

    /// <summary>Runs `SCRIPT restart SERVER`, its output appended to <paramref name="logFile"/>.</summary>
    public static async Task RestartAsync(string script, string server, string logFile, CancellationToken ct)
    {
        var start = new ProcessStartInfo("bash") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { script, "restart", server })
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
            throw new TimeoutException($"{script} restart {server} did not finish within 3 minutes.");
        }
        var text = await output + await errors;
        await File.AppendAllTextAsync(logFile, text, CancellationToken.None);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{script} restart {server} exited with {process.ExitCode}:{Environment.NewLine}{text}");
    }
}
