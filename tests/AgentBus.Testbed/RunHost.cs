namespace AgentBus.Testbed;

/// <summary>One run of a harness: it prints its own report and answers 0 when every check held.</summary>
public interface IRun : IAsyncDisposable
{
    Task<int> RunAsync(CancellationToken ct);
}

/// <summary>
/// The entry point the load, fault and hostile-input programs share: exit 2 for a bad command line or
/// environment (with what to fix), 1 for a failed or stopped run, and cleanup (vhost, database,
/// processes) on every path, including Ctrl-C, SIGTERM and the run's own time limit.
/// </summary>
public static class RunHost
{
    /// <param name="create">Parses the command line and the servers' environment; throws <see cref="UsageException"/> when either is wrong.</param>
    public static async Task<int> MainAsync(string what, Func<(IRun Run, TimeSpan Timeout)> create)
    {
        IRun run;
        TimeSpan timeout;
        try
        {
            (run, timeout) = create();
        }
        catch (UsageException ex)
        {
            Console.Error.WriteLine(ex.Message);
            return 2;
        }

        using var shutdown = new Shutdown(timeout);
        await using (run)
        {
            try
            {
                return await run.RunAsync(shutdown.Token);
            }
            catch (OperationCanceledException) when (shutdown.Requested)
            {
                Console.Error.WriteLine($"Stopped (signal, or the {timeout.TotalSeconds:0} s limit); cleaning up.");
                return 1;
            }
            catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or Npgsql.NpgsqlException or HttpRequestException)
            {
                Console.Error.WriteLine($"{what} failed: {ex.Message}");
                return 1;
            }
        }
    }
}
