using System.CommandLine;
using AgentBus.Cli.Commands;

var root = new RootCommand("agentbus: operate the AgentBus execution layer")
{
    DbCommands.Create(),
    BrokerCommands.Create(),
    AuditCommands.Create(),
    RunsCommands.Create(),
    CostsCommand.Create(),
    GatesCommand.Create(),
};
return await root.Parse(args).InvokeAsync();
