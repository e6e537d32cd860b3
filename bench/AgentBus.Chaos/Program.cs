using AgentBus.Chaos;
using AgentBus.Testbed;

ChaosOptions options;
ServerEnvironment servers;
try
{
    options = ChaosOptions.Parse(args);
    servers = ServerEnvironment.FromEnvironment();
    if (options.RestartServers)
        ServerFaults.RequirePrivate(servers);
}
catch (UsageException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}

using var shutdown = new Shutdown(options.Timeout);
await using var run = new ChaosRun(options, servers);
try
{
    return await run.RunAsync(shutdown.Token);
}
catch (OperationCanceledException) when (shutdown.Requested)
{
    Console.Error.WriteLine($"Stopped (signal, or the {options.Timeout.TotalSeconds:0} s limit); cleaning up.");
    return 1;
}
catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or Npgsql.NpgsqlException or HttpRequestException)
{
    Console.Error.WriteLine($"Chaos run failed: {ex.Message}");
    return 1;
}
