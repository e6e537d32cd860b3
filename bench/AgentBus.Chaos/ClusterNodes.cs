using System.Text.Json;
using AgentBus.Testbed;

namespace AgentBus.Chaos;

/// <summary>
/// The RabbitMQ nodes of a cluster run, as ops/lib/cluster.sh names them (AGENTBUS_RABBITMQ_NODES, in
/// the order of AGENTBUS_RABBITMQ_ENDPOINTS; its `kill N` and `start N` count from 1), and the choice
/// of which to kill: the live node serving most of the run's connections, so the fault moves the most
/// clients, preferring one not killed before.
/// </summary>
sealed class ClusterNodes(string script, IReadOnlyList<string> names)
{
    readonly HashSet<int> _killed = [];

    public IReadOnlyList<string> Names { get; } = names;

    public static IReadOnlyList<string> NamesFromEnvironment() =>
        (Environment.GetEnvironmentVariable("AGENTBUS_RABBITMQ_NODES") ?? "")
        .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The node (1-based) to kill next and how many of the run's connections it serves.</summary>
    public async Task<(int Node, int Connections)> ChooseAsync(Scratch scratch, CancellationToken ct)
    {
        var perNode = new int[Names.Count];
        var index = Names.Select((name, i) => (name, i)).ToDictionary(n => n.name, n => n.i, StringComparer.Ordinal);
        var connections = await scratch.Management.GetAsync($"vhosts/{Uri.EscapeDataString(scratch.VirtualHost)}/connections", ct);
        foreach (var connection in connections.EnumerateArray())
            if (connection.TryGetProperty("node", out var node) && node.ValueKind == JsonValueKind.String
                && index.TryGetValue(node.GetString()!, out var at))
                perNode[at]++;
        var best = Enumerable.Range(0, Names.Count)
            .OrderBy(i => _killed.Contains(i + 1))
            .ThenByDescending(i => perNode[i])
            .ThenBy(i => i)
            .First();
        return (best + 1, perNode[best]);
    }

    public async Task KillAsync(int node, string logFile, CancellationToken ct)
    {
        _killed.Add(node);
        await ServerFaults.RunAsync(script, ["kill", node.ToString()], logFile, ct);
    }

    /// <summary>Starts the node on its data again; the script returns once it has rejoined the cluster.</summary>
    public Task StartAsync(int node, string logFile, CancellationToken ct) =>
        ServerFaults.RunAsync(script, ["start", node.ToString()], logFile, ct);
}
