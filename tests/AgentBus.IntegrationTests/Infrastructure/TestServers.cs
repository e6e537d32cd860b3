using DotNet.Testcontainers.Builders;
using Testcontainers.PostgreSql;
using Testcontainers.RabbitMq;

namespace AgentBus.IntegrationTests.Infrastructure;

/// <summary>
/// Where the real RabbitMQ and PostgreSQL are: the servers ops/test.sh started (environment
/// variables written by ops/lib/servers.sh), or containers when a Docker engine is available.
/// </summary>
public sealed class TestServers : IAsyncDisposable
{
    RabbitMqContainer? _rabbit;
    PostgreSqlContainer? _postgres;

    public required string RabbitHost { get; init; }
    public required int RabbitPort { get; init; }
    public required Uri ManagementUrl { get; init; }
    public required string AdminUser { get; init; }
    public required string AdminPassword { get; init; }
    public required string PostgresAdmin { get; init; }

    static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;

    public static async Task<TestServers> StartAsync()
    {
        if (Env("AGENTBUS_RABBITMQ_MANAGEMENT_URL") is { } management && Env("AGENTBUS_POSTGRES_ADMIN") is { } postgres)
        {
            return new TestServers
            {
                RabbitHost = Env("AGENTBUS_RABBITMQ_HOST") ?? "127.0.0.1",
                RabbitPort = int.Parse(Env("AGENTBUS_RABBITMQ_PORT") ?? "5672"),
                ManagementUrl = new Uri(management),
                AdminUser = Env("AGENTBUS_RABBITMQ_ADMIN_USER") ?? throw new InvalidOperationException("AGENTBUS_RABBITMQ_ADMIN_USER is not set."),
                AdminPassword = Env("AGENTBUS_RABBITMQ_ADMIN_PASSWORD") ?? throw new InvalidOperationException("AGENTBUS_RABBITMQ_ADMIN_PASSWORD is not set."),
                PostgresAdmin = postgres,
            };
        }

        RabbitMqContainer rabbit;
        try
        {
            rabbit = new RabbitMqBuilder("rabbitmq:3.13-management")
                .WithUsername("agentbus-admin").WithPassword("agentbus-admin")
                .WithPortBinding(15672, true)
                .Build();
        }
        catch (DockerUnavailableException ex)
        {
            throw new InvalidOperationException(
                "No RabbitMQ and PostgreSQL for the integration tests: run them through ops/test.sh (which starts real servers " +
                "and exports AGENTBUS_RABBITMQ_* and AGENTBUS_POSTGRES_ADMIN), or start a Docker engine for Testcontainers.", ex);
        }

        var postgresContainer = new PostgreSqlBuilder("postgres:15").Build();
        await Task.WhenAll(rabbit.StartAsync(), postgresContainer.StartAsync());
        return new TestServers
        {
            _rabbit = rabbit,
            _postgres = postgresContainer,
            RabbitHost = rabbit.Hostname,
            RabbitPort = rabbit.GetMappedPublicPort(5672),
            ManagementUrl = new Uri($"http://{rabbit.Hostname}:{rabbit.GetMappedPublicPort(15672)}"),
            AdminUser = "agentbus-admin",
            AdminPassword = "agentbus-admin",
            PostgresAdmin = postgresContainer.GetConnectionString(),
        };
    }

    public async ValueTask DisposeAsync()
    {
        if (_rabbit is not null)
            await _rabbit.DisposeAsync();
        if (_postgres is not null)
            await _postgres.DisposeAsync();
    }
}
