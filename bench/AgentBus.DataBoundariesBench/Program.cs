using AgentBus.DataBoundariesBench;

// dotnet run -c Release --project bench/AgentBus.DataBoundariesBench              the full run (about a minute)
// dotnet run -c Release --project bench/AgentBus.DataBoundariesBench -- --short   a quicker, rougher run
// dotnet run -c Release --project bench/AgentBus.DataBoundariesBench -- --help    seed, sizes, corpus output
try
{
    var options = BenchOptions.Parse(args);
    return new DataBoundariesRun(options, Console.Out).Run();
}
catch (BenchUsageException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}
