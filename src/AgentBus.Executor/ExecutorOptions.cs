using System.ComponentModel.DataAnnotations;

namespace AgentBus.Executor;

public sealed class ExecutorOptions
{
    public const string Section = "Executor";
    public const string ToolKey = Section + ":Tool";

    /// <summary>The one tool this process runs; set with --tool NAME.</summary>
    [Required(ErrorMessage = "Executor:Tool is required: start the executor with --tool NAME.")]
    [RegularExpression("^[a-z0-9][a-z0-9._-]{0,63}$", ErrorMessage = "Executor:Tool must be a tool name such as 'ticketing'.")]
    public string Tool { get; set; } = "";

    /// <summary>Where NAME.json describes each tool's plugin and settings.</summary>
    public string ToolsDirectory { get; set; } = "ops/tools";

    /// <summary>
    /// Where the tool's secret file lives (file name = tool name). The environment variable
    /// AGENTBUS_TOOL_SECRET_NAME takes precedence.
    /// </summary>
    public string? SecretsDirectory { get; set; }
}
