using System.ComponentModel.DataAnnotations;
using AgentBus.Contracts;

namespace AgentBus.Mcp;

/// <summary>
/// The gateway's settings (section Mcp). There is deliberately no broker user or password here: the
/// gateway logs in to RabbitMQ only as an agent that has just presented that agent's own password.
/// </summary>
public sealed class GatewayOptions
{
    public const string Section = "Mcp";

    /// <summary>The policy file in force (the policy service's): which operations each agent is offered.</summary>
    [Required(ErrorMessage = "Mcp:PolicyFile is required: the gateway offers each agent the operations this policy grants it.")]
    public string PolicyFile { get; set; } = "";

    public string BrokerHost { get; set; } = "127.0.0.1";

    [Range(1, 65535, ErrorMessage = "Mcp:BrokerPort must be between 1 and 65535.")]
    public int BrokerPort { get; set; } = 5672;

    /// <summary>Every node of a RabbitMQ cluster, "host:port,host:port"; when set, BrokerHost and BrokerPort are not used.</summary>
    public string? BrokerEndpoints { get; set; }

    public string BrokerVirtualHost { get; set; } = WireNames.DefaultVirtualHost;

    /// <summary>Where approvers decide: the approval-required result links to {ApprovalsUrl}/inbox/{approvalId}.</summary>
    public string ApprovalsUrl { get; set; } = "http://127.0.0.1:5104";

    /// <summary>How long a call waits for its decision and outcome before it answers with a timeout error.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00", ErrorMessage = "Mcp:CallTimeout must be between 1 s and 10 min.")]
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A repeated call for an action that waits for people waits this long for their decision before it
    /// answers "still waiting" again; the first call never waits for people.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00", ErrorMessage = "Mcp:PendingApprovalWait must be between 0 and 10 min.")]
    public TimeSpan PendingApprovalWait { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>An agent's broker connection is closed after this long without a call.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00", ErrorMessage = "Mcp:IdleTimeout must be between 1 s and 1 day.")]
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long a password the broker accepted is taken on trust for an open connection. After that the
    /// gateway logs in with it again before admitting a request, so a password rotated away (or a user
    /// removed) stops working here within this time, however busy the old connection is.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00", ErrorMessage = "Mcp:CredentialRecheck must be between 1 s and 1 h.")]
    public TimeSpan CredentialRecheck { get; set; } = TimeSpan.FromSeconds(60);

    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00", ErrorMessage = "Mcp:ReloadInterval must be between 100 ms and 10 min.")]
    public TimeSpan ReloadInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Wrong passwords for one agent within a minute before the gateway stops asking the broker (429) for the rest of it.</summary>
    [Range(1, 1000, ErrorMessage = "Mcp:FailedLoginsPerMinute must be between 1 and 1000.")]
    public int FailedLoginsPerMinute { get; set; } = 5;

    /// <summary>
    /// Browser origins allowed to call the gateway (e.g. https://console.example.com). A request with any
    /// other Origin is refused (403) before it is read: a web page must not reach a gateway on a
    /// developer's loopback by DNS rebinding. Agents outside a browser send no Origin.
    /// </summary>
    public string[] AllowedOrigins { get; set; } = [];

    /// <summary>Arguments larger than this are refused before anything is published (the policy's own limit is 64 KiB of proposal).</summary>
    [Range(1024, 4 * 1024 * 1024, ErrorMessage = "Mcp:MaxArgumentBytes must be between 1 KiB and 4 MiB.")]
    public int MaxArgumentBytes { get; set; } = 60 * 1024;

    internal static IEnumerable<string> Problems(GatewayOptions options)
    {
        if (BrokerNodes.Problem($"{Section}:BrokerEndpoints", options.BrokerEndpoints, options.BrokerPort) is { } endpoints)
            yield return endpoints;
    }
}
