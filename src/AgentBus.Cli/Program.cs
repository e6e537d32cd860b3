using System.CommandLine;
using AgentBus.Cli.Commands;

var root = new RootCommand("agentbus: operate the AgentBus execution layer")
{
    DbCommands.Create(),
    BrokerCommands.Create(),
    PolicyCommands.Create(),
    OperatorCommands.Agents(),
    OperatorCommands.Tools(),
};
return await root.Parse(args).InvokeAsync();
