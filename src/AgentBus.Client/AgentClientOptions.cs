using AgentBus.Contracts;

namespace AgentBus.Client;

public sealed class AgentClientOptions
{
    public string Host { get; set; } = "127.0.0.1";
    public int Port { get; set; } = 5672;

    /// <summary>
    /// Every node of a RabbitMQ cluster, "host:port,host:port"; when set, Host and Port are not used.
    /// The client connects to one that answers and, when that node dies, recovers on another.
    /// </summary>
    public string? Endpoints { get; set; }
    public string VirtualHost { get; set; } = WireNames.DefaultVirtualHost;

    /// <summary>The agent's id, which is also its RabbitMQ user name.</summary>
    public string AgentId { get; set; } = "";

    public string Password { get; set; } = "";

    /// <summary>How long a publish may wait for the broker's confirm before it counts as failed.</summary>
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Read the agent's reply queue only while some action is tracked, instead of from connect. The queue
    /// has one set of consumers per agent and each reply goes to one of them: a client that reaches
    /// AgentBus for this agent now and then (the MCP gateway) then does not take replies meant for the
    /// agent's other client while it has nothing of its own to wait for.
    /// </summary>
    public bool ConsumeRepliesOnlyWhileTracking { get; set; }
}
