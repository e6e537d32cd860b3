using System.CommandLine;
using AgentBus.Cli.Commands;
using Spectre.Console;

// Logs and pipes get full rows rather than tables wrapped at 80 columns.
if (Console.IsOutputRedirected)
    AnsiConsole.Profile.Width = 200;

var root = new RootCommand("agentbus: operate the AgentBus execution layer")
{
    DbCommands.Create(),
    BrokerCommands.Create(),
    SecretsCommands.Create(),
    DlqCommands.Create(),
    KeyCommands.Create(),
    PolicyCommands.Create(),
    OperatorCommands.Agents(),
    ToolsCommands.Create(),
    AuditCommands.Create(),
    RunsCommands.Create(),
    ActionsCommands.Create(),
    CostsCommand.Create(),
    GatesCommand.Create(),
    ApproverCommands.Create(),
    McpCommand.Create(),
};
return await root.Parse(args).InvokeAsync();
