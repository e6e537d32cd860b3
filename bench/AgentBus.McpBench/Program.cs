using AgentBus.McpBench;
using AgentBus.Testbed;

return await RunHost.MainAsync("MCP benchmark", () =>
{
    var options = McpBenchOptions.Parse(args);
    return (new McpBenchRun(options, ServerEnvironment.FromEnvironment()), options.Timeout);
});
