using System.Text.Json;
using AgentBus.Approvals.Approvers;
using AgentBus.Cli.Broker;
using AgentBus.Contracts;
using AgentBus.IntegrationTests.Infrastructure;
using AgentBus.ServiceDefaults;
using AgentBus.ServiceDefaults.Json;
using AgentBus.ServiceDefaults.Messaging;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using RabbitMQ.Client;

namespace AgentBus.IntegrationTests.Approvals;

/// <summary>
/// The pipeline plus the approvals service (its own host through <see cref="ApprovalsFactory"/>),
/// a publisher with the policy service's broker identity (what part B's policy will send: approval
/// requests and consumptions), one with the operator's (suspensions), and a queue bound to every
/// approval outcome exchange so tests see exactly what the saga published.
/// </summary>
public sealed class ApprovalsFixture : PipelineFixture
{
    public const string OutcomesQueue = "test.approval-outcomes";

    ApprovalsFactory? _approvals;
    IBus _policyBus = null!;
    IBus _operatorBus = null!;

    public ApprovalsFactory Approvals => _approvals ??= StartApprovals();

    public ApproverStore Approvers { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _policyBus = (await PublisherAsync(BrokerTopology.PolicyUser)).Services.GetRequiredService<IBus>();
        _operatorBus = (await PublisherAsync(BrokerTopology.OperatorUser)).Services.GetRequiredService<IBus>();
        Approvers = new ApproverStore(NpgsqlDataSource.Create(ConnectionString));

        await Management.PutQueueAsync(VirtualHost, OutcomesQueue, CancellationToken.None);
        foreach (var exchange in WireNames.ApprovalOutcomeExchanges)
            await Management.BindQueueAsync(VirtualHost, exchange, OutcomesQueue, "#", CancellationToken.None);
        _ = Approvals.ServerUrl;
    }

    public Dictionary<string, string?> ApprovalsSettings(IReadOnlyDictionary<string, string?>? extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["RabbitMq:Host"] = Servers.RabbitHost,
            ["RabbitMq:Port"] = Servers.RabbitPort.ToString(),
            ["RabbitMq:VirtualHost"] = VirtualHost,
            ["RabbitMq:Username"] = BrokerTopology.ApprovalsUser,
            ["RabbitMq:PasswordFile"] = Secrets.PathFor("rabbitmq", BrokerTopology.ApprovalsUser),
            ["RabbitMq:PublishTimeout"] = "00:00:10",
            ["Database:ConnectionString"] = ConnectionString,
            ["Approvals:SweepInterval"] = "00:00:00.250",
            ["Approvals:SweepResendAfter"] = "00:00:02",
            ["Approvals:SecureCookies"] = "false",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Warning",
            ["Logging:LogLevel:AgentBus"] = "Warning",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
            settings[key] = value;
        return settings;
    }

    ApprovalsFactory StartApprovals()
    {
        var factory = new ApprovalsFactory(this);
        _ = factory.ServerUrl;
        return factory;
    }

    /// <summary>Stops the approvals service (as a crash or deploy would) and starts a new one on the same database and queues.</summary>
    public async Task RestartApprovalsAsync()
    {
        if (_approvals is not null)
            await _approvals.DisposeAsync();
        _approvals = null;
        _ = Approvals.ServerUrl;
    }

    /// <summary>Another approvals service with extra settings (e.g. OIDC), alongside the main one; the caller disposes it.</summary>
    public ApprovalsFactory ExtraApprovals(IReadOnlyDictionary<string, string?> extra)
    {
        var factory = new ApprovalsFactory(this, extra);
        _ = factory.ServerUrl;
        return factory;
    }

    Task<WebApplication> PublisherAsync(string user) =>
        StartHostAsync(user, [], b => { b.Services.AddHealthChecks(); b.AddAgentBusMessaging(user, _ => { }); }, new() { ["RabbitMq:PublishTimeout"] = "00:00:10" });

    public async Task<string> AddApproverAsync(string name, params string[] groups) =>
        (await Approvers.AddAsync(name, groups, CancellationToken.None)).Token;

    public static ApprovalRequested Request(string agent = "support-bot", string tool = "payments", object? arguments = null,
        int quorum = 1, string group = "finance", TimeSpan? expiresIn = null, string requestedBy = "alice",
        string[]? excluded = null, string? escalationGroup = null, TimeSpan? escalationDelay = null, string? runId = null, object? current = null)
    {
        var actionId = Guid.CreateVersion7().ToString();
        var args = JsonSerializer.SerializeToElement(arguments ?? new { method = "POST", url = "http://127.0.0.1:5080/payments/refunds", body = new { orderId = "ORD-1", amountUsd = 900 } });
        var now = DateTimeOffset.UtcNow;
        return new ApprovalRequested(ApprovalIds.For(agent, actionId), actionId, runId ?? $"run-{actionId[..8]}", agent, "support", tool, args,
            CanonicalJson.Hash(args), "refunds-over-500", group, quorum, excluded ?? ["sam"], requestedBy, now, now + (expiresIn ?? TimeSpan.FromMinutes(10)),
            escalationGroup, escalationDelay, "sha256:test", "Refund a double charge.", null,
            current is null ? null : JsonSerializer.SerializeToElement(current));
    }

    /// <summary>Publishes as the policy service would, and waits until the saga holds the approval.</summary>
    public async Task<ApprovalRequested> RequestApprovalAsync(ApprovalRequested request)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await _policyBus.Publish(request, send => send.MessageId = MessageIds.For(request.ApprovalId.ToString("D"), nameof(ApprovalRequested)), timeout.Token);
        await Eventually.True(async () => await StateAsync(request.ApprovalId) is "Pending" or "Cancelled", $"approval {request.ApprovalId} to be stored");
        return request;
    }

    public async Task ConsumeAsync(ConsumeApproval consume)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await _policyBus.Publish(consume, timeout.Token);
    }

    public static ConsumeApproval Consumption(ApprovalRequested request, Guid? consumptionId = null, string? argumentsHash = null) =>
        new(request.ApprovalId, consumptionId ?? Guid.NewGuid(), request.ActionId, request.RunId, request.AgentId, request.Tool,
            argumentsHash ?? request.ArgumentsHash, DateTimeOffset.UtcNow);

    public async Task SuspendAsync(string action, string target)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await _operatorBus.Publish(new OperatorActionTaken("ops-oncall", action, target, "incident 42", JsonSerializer.SerializeToElement(new { }), DateTimeOffset.UtcNow),
            timeout.Token);
    }

    public Task<string?> StateAsync(Guid approvalId) =>
        QueryScalarAsync<string?>("SELECT current_state FROM approval_sagas WHERE correlation_id = @Id", new { Id = approvalId });

    async Task<T> QueryScalarAsync<T>(string sql, object parameters) => (await QueryAsync<T>(sql, parameters)).FirstOrDefault()!;

    /// <summary>Every outcome the saga published for this approval so far (type, body), read from the test queue without removing others'.</summary>
    public async Task<IReadOnlyList<(string Type, JsonElement Body)>> OutcomesAsync(Guid approvalId)
    {
        await using var connection = await new ConnectionFactory
        {
            HostName = Servers.RabbitHost, Port = Servers.RabbitPort, VirtualHost = VirtualHost,
            UserName = Servers.AdminUser, Password = Servers.AdminPassword,
        }.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var all = new List<(string, JsonElement)>();
        while (await channel.BasicGetAsync(OutcomesQueue, autoAck: false) is { } delivery)
            all.Add((delivery.BasicProperties.Type ?? "", JsonSerializer.Deserialize<JsonElement>(delivery.Body.Span)));
        // Closing the channel without acks puts everything back, in order, for the next look.
        return all.Where(o => o.Item2.TryGetProperty("approvalId", out var id) && id.GetGuid() == approvalId).ToList();
    }

    public async Task<IReadOnlyList<(string Type, JsonElement Body)>> WaitForOutcomesAsync(Guid approvalId, Func<IReadOnlyList<(string Type, JsonElement Body)>, bool> done,
        string what) =>
        await Eventually.Get(() => OutcomesAsync(approvalId), done, what);

    public override async Task DisposeAsync()
    {
        if (_approvals is not null)
            await _approvals.DisposeAsync();
        await base.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class ApprovalsCollection : ICollectionFixture<ApprovalsFixture>
{
    public const string Name = "approvals";
}
