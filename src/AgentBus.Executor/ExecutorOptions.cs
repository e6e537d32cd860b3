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

    /// <summary>Which secret to load; when set it must be the tool's own name (a guard against a copy-pasted deployment).</summary>
    public string? SecretName { get; set; }

    /// <summary>
    /// The policy service's public key: a PEM file, or a folder whose *.pub.pem files are all
    /// trusted (old and new side by side while the signing key rotates).
    /// </summary>
    [Required(ErrorMessage = "Executor:PolicyKeys is required: the policy service's public key file (or a folder of *.pub.pem), as `agentbus keys generate` writes it.")]
    public string PolicyKeys { get; set; } = "";

    /// <summary>
    /// A claim whose heartbeat is older than this belongs to a copy that stopped mid-call: its action
    /// becomes outcome-unknown. Heartbeats are written every third of it.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00", ErrorMessage = "Executor:ClaimLease must be between 1 second and 10 minutes.")]
    public TimeSpan ClaimLease { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Names this copy in claims and in its outcomes (default: host, process id and a random suffix).</summary>
    public string? InstanceName { get; set; }
}
