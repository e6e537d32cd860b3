using AgentBus.Cli.Commands;
using Spectre.Console;

namespace AgentBus.UnitTests.Cli;

/// <summary>Runs `agentbus tools …` in process, capturing what it prints, without colours or terminal width tricks.</summary>
static class ToolsCli
{
    static AnsiConsoleSettings Plain(TextWriter writer) =>
        new() { Out = new AnsiConsoleOutput(writer), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.No };

    public static Task<(int Code, string Output, string Error)> Run(params string[] args) => Run(ToolsCommands.Create(), args);

    /// <summary>Any other `agentbus` command the same way.</summary>
    public static async Task<(int Code, string Output, string Error)> Run(System.CommandLine.Command command, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var root = new System.CommandLine.RootCommand { command };
        using (AgentBus.Cli.Commands.Cli.CaptureOutput(AnsiConsole.Create(Plain(output))))
        using (AgentBus.Cli.Commands.Cli.CaptureError(AnsiConsole.Create(Plain(error))))
        {
            var code = await root.Parse(args).InvokeAsync();
            return (code, output.ToString(), error.ToString());
        }
    }
}
