using AgentBus.Hostile;
using AgentBus.Testbed;

return await RunHost.MainAsync("Hostile run", () =>
{
    var options = HostileOptions.Parse(args);
    return (new HostileRun(options, ServerEnvironment.FromEnvironment()), options.Timeout);
});
