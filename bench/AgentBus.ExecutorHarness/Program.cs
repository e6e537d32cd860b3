using AgentBus.ExecutorHarness;

HarnessOptions options;
try
{
    options = HarnessOptions.Parse(args);
}
catch (UsageException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}

using var timeout = new CancellationTokenSource(options.Timeout);
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    timeout.Cancel();
};

await using var harness = new Harness(options);
try
{
    var results = await harness.RunAsync(timeout.Token);
    harness.Report(results);
    return 0;
}
catch (OperationCanceledException) when (timeout.IsCancellationRequested)
{
    Console.Error.WriteLine($"Stopped after {options.Timeout.TotalSeconds:0} s (or Ctrl-C); cleaning up.");
    return 1;
}
catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or Npgsql.NpgsqlException or HttpRequestException)
{
    Console.Error.WriteLine($"Harness failed: {ex.Message}");
    return 1;
}
