using System.Text;

namespace AgentBus.Testbed;

/// <summary>
/// The policy file of a run: its agents (one team), its tools, one grant per agent for one tool, and
/// limits and budgets far above anything a run sends, so that what decides an action is the input and
/// the pipeline, never a limit.
/// </summary>
public static class RunPolicy
{
    /// <param name="toolsYaml">The policy's <c>tools:</c> section (or its <c>catalog:</c> line), as YAML starting at that key.</param>
    /// <param name="operations">For a catalog tool, the operations granted; null grants all of them.</param>
    /// <param name="maxRetries">Attempts of the same action (tool and arguments) within one run, beyond the first, before it is denied.</param>
    public static string Yaml(IEnumerable<string> agents, string team, string toolsYaml, string grantedTool, IReadOnlyList<string>? operations = null,
        int maxRetries = 3)
    {
        var names = agents.ToList();
        var yaml = new StringBuilder();
        yaml.AppendLine("agents:");
        foreach (var agent in names)
            yaml.AppendLine($"  - id: {agent}\n    team: {team}");
        yaml.AppendLine(toolsYaml.TrimEnd());
        yaml.AppendLine("grants:");
        foreach (var agent in names)
        {
            yaml.AppendLine($"  - id: {agent}-{grantedTool}\n    agent: {agent}\n    tool: {grantedTool}");
            if (operations is not null)
                yaml.AppendLine($"    operations: [{string.Join(", ", operations)}]");
        }
        yaml.AppendLine($$"""
            limits:
              default:
                callsPerMinute: 1000000
                run: { maxToolCalls: 100000, maxRetries: {{maxRetries}}, maxDuration: 1d }
            budgets:
              default: { perDayUsd: 100000, perRunUsd: 10000 }
            """);
        return yaml.ToString();
    }
}
