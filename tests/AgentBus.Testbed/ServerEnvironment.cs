using System.Net;
using AgentBus.Contracts;
using Npgsql;

namespace AgentBus.Testbed;

/// <summary>
/// The RabbitMQ and PostgreSQL a run uses, from the environment ops/lib/servers.sh writes
/// (`source $STATE/env`), and the secrets folder for broker users' passwords. Only servers on this
/// machine are accepted: these programs start, kill and flood things.
/// </summary>
public sealed record ServerEnvironment(
    string RabbitHost,
    int RabbitPort,
    Uri ManagementUrl,
    string AdminUser,
    string AdminPassword,
    string PostgresAdmin,
    string SecretsDirectory)
{
    /// <summary>
    /// Every RabbitMQ node when the servers are a cluster (AGENTBUS_RABBITMQ_ENDPOINTS, which
    /// ops/lib/cluster.sh writes), else the one node; services and agents get the whole list and move
    /// to a surviving node when theirs dies.
    /// </summary>
    public IReadOnlyList<BrokerNode> RabbitNodes { get; init; } = [new(RabbitHost, RabbitPort)];

    public bool IsCluster => RabbitNodes.Count > 1;

    /// <summary>"host:port,host:port", the form RabbitMq:Endpoints and Mcp:BrokerEndpoints read.</summary>
    public string RabbitEndpoints => string.Join(',', RabbitNodes);

    public const string Help = """
        Servers come from the environment ops/lib/servers.sh writes: AGENTBUS_RABBITMQ_HOST, AGENTBUS_RABBITMQ_PORT,
        AGENTBUS_RABBITMQ_MANAGEMENT_URL, AGENTBUS_RABBITMQ_ADMIN_USER/PASSWORD, AGENTBUS_POSTGRES_ADMIN
        (source <state>/env), and AGENTBUS_SECRETS_DIR (broker users' passwords; default <state>/secrets).
        On a cluster (ops/lib/cluster.sh env) AGENTBUS_RABBITMQ_ENDPOINTS lists every node, and services
        and agents are given the whole list.
        """;

    public int PostgresPort => new NpgsqlConnectionStringBuilder(PostgresAdmin).Port;

    public static ServerEnvironment FromEnvironment()
    {
        static string Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new UsageException($"{name} is not set.{Environment.NewLine}{Help}");

        var servers = new ServerEnvironment(
            Environment.GetEnvironmentVariable("AGENTBUS_RABBITMQ_HOST") is { Length: > 0 } host ? host : "127.0.0.1",
            int.TryParse(Environment.GetEnvironmentVariable("AGENTBUS_RABBITMQ_PORT"), out var port) ? port : 5672,
            new Uri(Env("AGENTBUS_RABBITMQ_MANAGEMENT_URL")),
            Env("AGENTBUS_RABBITMQ_ADMIN_USER"),
            Env("AGENTBUS_RABBITMQ_ADMIN_PASSWORD"),
            Env("AGENTBUS_POSTGRES_ADMIN"),
            Environment.GetEnvironmentVariable("AGENTBUS_SECRETS_DIR") is { Length: > 0 } secrets ? secrets : "/var/lib/agentbus/secrets");
        try
        {
            servers = servers with
            {
                RabbitNodes = BrokerNodes.ListOrSingle(Environment.GetEnvironmentVariable("AGENTBUS_RABBITMQ_ENDPOINTS"), servers.RabbitHost, servers.RabbitPort),
            };
        }
        catch (FormatException ex)
        {
            throw new UsageException($"AGENTBUS_RABBITMQ_ENDPOINTS: {ex.Message}");
        }
        foreach (var node in servers.RabbitNodes)
            RequireLoopback("RabbitMQ", node.Host);
        RequireLoopback("RabbitMQ", servers.RabbitHost);
        RequireLoopback("the RabbitMQ management API", servers.ManagementUrl.Host);
        RequireLoopback("PostgreSQL", new NpgsqlConnectionStringBuilder(servers.PostgresAdmin).Host ?? "");
        return servers;
    }

    static void RequireLoopback(string what, string host)
    {
        var loopback = host is "localhost" || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));
        if (!loopback)
            throw new UsageException($"{what} is at '{host}': these runs only target servers on 127.0.0.1.");
    }
}

/// <summary>Bad command line or environment: the message says what to fix (exit code 2).</summary>
public sealed class UsageException(string message) : Exception(message);
