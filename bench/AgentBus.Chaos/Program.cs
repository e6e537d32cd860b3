using AgentBus.Chaos;
using AgentBus.Testbed;

return await RunHost.MainAsync("Chaos run", () =>
{
    var options = ChaosOptions.Parse(args);
    var servers = ServerEnvironment.FromEnvironment();
    if (options.RestartServers)
        ServerFaults.RequirePrivate(servers);
    if (options.Cluster)
        ServerFaults.RequirePrivateCluster(servers, ClusterNodes.NamesFromEnvironment());
    return (new ChaosRun(options, servers), options.Timeout);
});
