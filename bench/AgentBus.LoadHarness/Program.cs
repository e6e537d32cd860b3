using AgentBus.LoadHarness;
using AgentBus.Testbed;

return await RunHost.MainAsync("Load run", () =>
{
    var options = LoadOptions.Parse(args);
    return (new LoadRun(options, ServerEnvironment.FromEnvironment()), options.Timeout);
});
