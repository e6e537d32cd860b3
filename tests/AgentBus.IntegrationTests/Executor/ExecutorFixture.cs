using System.Text.Json;
using AgentBus.Operations.Broker;
using AgentBus.Contracts;
using AgentBus.IntegrationTests.Infrastructure;
using AgentBus.ServiceDefaults;
using AgentBus.ServiceDefaults.Json;
using AgentBus.ServiceDefaults.Messaging;
using AgentBus.ServiceDefaults.Security;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace AgentBus.IntegrationTests.Executor;

/// <summary>
/// The pipeline plus a publisher that holds the policy service's broker user and signing key, so
/// tests can put exactly the ExecuteTool they want (forged, expired, repeated) on a tool's queue.
/// </summary>
public class ExecutorFixture : PipelineFixture
{
    WebApplication _publisher = null!;

    public AuthorizationSigner Signer { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Signer = AuthorizationSigner.FromFile(SigningKeyFile);
        _publisher = await StartHostAsync(BrokerTopology.PolicyUser, [], b =>
        {
            b.AddServiceDefaults("agentbus-test-publisher", 0);
            b.AddAgentBusMessaging(BrokerTopology.PolicyUser, _ => { });
        }, new());
    }

    public object Ticket(string title, string query = "") =>
        new { method = "POST", url = new Uri(SandboxUrl, "/ticketing/tickets" + query).ToString(), body = new { title } };

    /// <summary>A command as the policy service would sign it (another signer or lifetime on request).</summary>
    public ExecuteTool Command(string tool, object arguments, string agentId = "support-bot", string? actionId = null,
        TimeSpan? lifetime = null, AuthorizationSigner? signer = null)
    {
        var args = JsonSerializer.SerializeToElement(arguments);
        var command = new ExecuteTool(actionId ?? Guid.CreateVersion7().ToString(), "run-executor", agentId, tool, args,
            CanonicalJson.Hash(args), null, DateTimeOffset.UtcNow, Authorization: null!);
        return command with { Authorization = (signer ?? Signer).Sign(command, null, DateTimeOffset.UtcNow + (lifetime ?? TimeSpan.FromMinutes(5))) };
    }

    /// <summary>Publishes as the policy service does (its broker user, mandatory), optionally onto another tool's queue.</summary>
    public async Task<Guid> PublishAsync(ExecuteTool command, Guid? messageId = null, string? routingKey = null)
    {
        var id = messageId ?? Guid.NewGuid();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await _publisher.Services.GetRequiredService<IBus>().Publish(command, send =>
        {
            send.MessageId = id;
            send.Mandatory = true;
            if (routingKey is not null)
                send.SetRoutingKey(routingKey);
        }, timeout.Token);
        return id;
    }

    /// <summary>The kill switch as the executor reads it, without going through the policy service.</summary>
    public async Task SuspendAsync(string kind, string name)
    {
        await using var connection = new Npgsql.NpgsqlConnection(ConnectionString);
        await Dapper.SqlMapper.ExecuteAsync(connection,
            "INSERT INTO policy_suspensions (kind, name, suspended_by, reason, suspended_at) VALUES (@kind, @name, 'test', 'test', now())",
            new { kind, name });
    }

    public override async Task DisposeAsync()
    {
        Signer?.Dispose();
        await base.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class ExecutorCollection : ICollectionFixture<ExecutorFixture>
{
    public const string Name = "executor";
}
