using AgentBus.AllInOne;

// Each part is its own WebApplication with its own service provider, bus connection and broker
// user, exactly as when deployed apart; they only share the process.
var parts = PartHosts.Build(args);
await PartHosts.RunAsync(parts);
