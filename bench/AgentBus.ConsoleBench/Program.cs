using AgentBus.ConsoleBench;
using AgentBus.ConsoleBench.Measuring;
using AgentBus.ConsoleBench.Seeding;

const string Usage = """
    usage:
      agentbus-console-bench seed --postgres CONN [--actions 100000] [--days 30] [--seed N] [--policy FILE] [--redaction FILE]
      agentbus-console-bench measure --console URL --token TOKEN [--rounds 20] [--paths /controls,/runs,...]
                                     [--postgres CONN] [--run RUN_ID] [--agent AGENT_ID] [--warmup 3] [--target-ms 300]
      agentbus-console-bench database create|drop --admin CONN --name NAME [--owner ROLE]
    """;

try
{
    return args switch
    {
        ["seed", .. var rest] => await SeedCommand.RunAsync(SeedSettings.Parse(rest)),
        ["measure", .. var rest] => await MeasureCommand.RunAsync(MeasureSettings.Parse(rest)),
        ["database", .. var rest] => await ScratchDatabase.RunAsync(rest),
        _ => throw new UsageException("name a verb: seed or measure."),
    };
}
catch (UsageException ex)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    Console.Error.WriteLine(Usage);
    return 2;
}
