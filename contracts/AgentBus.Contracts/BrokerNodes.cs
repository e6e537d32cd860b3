using System.Globalization;

namespace AgentBus.Contracts;

public sealed record BrokerNode(string Host, int Port)
{
    public override string ToString() => $"{Host}:{Port}";
}

/// <summary>
/// The RabbitMQ nodes of a cluster as one setting, "host:port,host:port" (port optional), the form
/// services, agents and scripts share (AGENTBUS_RABBITMQ_ENDPOINTS, RabbitMq:Endpoints). A client
/// connects to the first that answers and, when that node dies, to another.
/// </summary>
public static class BrokerNodes
{
    public static IReadOnlyList<BrokerNode> Parse(string list, int defaultPort)
    {
        var nodes = new List<BrokerNode>();
        foreach (var item in list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = item.LastIndexOf(':');
            var host = colon < 0 ? item : item[..colon];
            var port = defaultPort;
            if (colon >= 0 && (!int.TryParse(item[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
                throw new FormatException($"'{item}' is not host:port (the port must be a number from 1 to 65535).");
            if (host.Length == 0 || host.Any(c => char.IsWhiteSpace(c) || c is '/' or '@' or ':'))
                throw new FormatException($"'{item}' names no valid host.");
            nodes.Add(new BrokerNode(host, port));
        }
        if (nodes.Count == 0)
            throw new FormatException("no broker node is named: expected host:port[,host:port…].");
        return nodes;
    }

    /// <summary>The nodes of <paramref name="list"/> when one is given, else the one host and port.</summary>
    public static IReadOnlyList<BrokerNode> ListOrSingle(string? list, string host, int port) =>
        string.IsNullOrWhiteSpace(list) ? [new BrokerNode(host, port)] : Parse(list, port);

    /// <summary>What is wrong with a setting holding a list (named <paramref name="setting"/>), or null when it is empty or good.</summary>
    public static string? Problem(string setting, string? list, int defaultPort)
    {
        if (string.IsNullOrWhiteSpace(list))
            return null;
        try
        {
            Parse(list, defaultPort);
            return null;
        }
        catch (FormatException ex)
        {
            return $"{setting}: {ex.Message}";
        }
    }
}
