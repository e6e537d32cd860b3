using System.Text.Json;
using AgentBus.Approvals.Approvers;
using AgentBus.Operations.Broker;
using AgentBus.Contracts;
using AgentBus.IntegrationTests.Infrastructure;
using AgentBus.Policy;
using AgentBus.Policy.Engine;
using AgentBus.Policy.State;
using AgentBus.ServiceDefaults;
using AgentBus.ServiceDefaults.Json;
using AgentBus.ServiceDefaults.Messaging;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using RabbitMQ.Client;

namespace AgentBus.IntegrationTests.Approvals;

/// <summary>
/// The pipeline plus the approvals service (its own host through <see cref="ApprovalsFactory"/>), with
/// a policy whose payments grants need approval: support-bot (1 approver), intern-bot (2) and
/// hasty-bot (1, expiring in seconds); each is owned by alice, and team support (sam, tina) may not
/// approve. Also publishers with the policy service's broker identity (approval requests and
/// consumptions, for tests of the saga alone), the approvals service's (replayed outcomes) and the
/// operator's (suspensions), and a queue bound to every approval outcome exchange so tests see
/// exactly what the saga published.
/// </summary>
public sealed class ApprovalsFixture : PipelineFixture
{
    public const string OutcomesQueue = "test.approval-outcomes";

    public const string PolicyYaml = """
        agents:
          - { id: support-bot, team: support, owner: alice }
          - { id: intern-bot, team: support, owner: alice }
          - { id: hasty-bot, team: support, owner: alice }
          - { id: python-agent, team: platform }
        teams:
          - { id: support, members: [sam, tina] }
        tools:
          - name: ticketing
            unitCostUsd: 0.002
          - name: payments
            unitCostUsd: 0.01
        grants:
          - { id: support-bot-tickets, agent: support-bot, tool: ticketing }
          - id: support-bot-refunds
            agent: support-bot
            tool: payments
            approval:
              id: refunds-over-500
              when: [{ argument: /body/amountUsd, above: 500 }]
              group: finance
              approvers: 1
              expires: 10m
          - id: intern-bot-refunds
            agent: intern-bot
            tool: payments
            approval:
              id: intern-refunds
              group: finance
              approvers: 2
              expires: 10m
          - id: hasty-bot-refunds
            agent: hasty-bot
            tool: payments
            approval:
              id: hasty-refunds
              group: finance
              approvers: 1
              expires: 3s
          - { id: intern-bot-tickets, agent: intern-bot, tool: ticketing }
          - { id: python-agent-tickets, agent: python-agent, tool: ticketing }
        budgets:
          default: { perDayUsd: 10, perRunUsd: 1 }
        """;

    ApprovalsFactory? _approvals;
    IBus _policyBus = null!;
    IBus _operatorBus = null!;
    IBus _approvalsBus = null!;

    readonly List<IServiceProvider> _policyInstances = [];

    protected override string Policy => PolicyYaml;

    protected override void ConfigureHost(string brokerUser, WebApplicationBuilder builder)
    {
        // The policy service itself, not the test's publishers that borrow its broker user.
        if (brokerUser != BrokerTopology.PolicyUser || builder.Services.All(d => d.ServiceType != typeof(PolicyStore)))
            return;
        builder.Configuration["Policy:ReloadInterval"] = "00:00:00.100";
        builder.Services.AddHostedService(services => new PolicyCapture(services, _policyInstances));
    }

    sealed class PolicyCapture(IServiceProvider services, List<IServiceProvider> into) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            lock (into)
                into.Add(services);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>Writes a policy file and waits until the policy service has it in force.</summary>
    public async Task UsePolicyAsync(string yaml)
    {
        var version = PolicyLoader.Parse(yaml, "x").Policy?.Version ?? throw new InvalidOperationException("not a valid policy");
        await PolicyFiles.WriteAsync(PolicyFile, yaml);
        await Eventually.True(() => Task.FromResult(_policyInstances.All(p => p.GetRequiredService<PolicyStore>().Current?.Version == version)),
            $"policy {version} in force", TimeSpan.FromSeconds(10));
    }

    /// <summary>Empties state and puts the fixture's policy back in force.</summary>
    public async Task ResetAllAsync()
    {
        _ = Approvals.ServerUrl;    // running again, if a test stopped it
        await ResetAsync();
        await UsePolicyAsync(PolicyYaml);
        await RefreshSuspensionsAsync();
    }

    /// <summary>Makes the policy service read the kill switch table now instead of within its refresh interval.</summary>
    public async Task RefreshSuspensionsAsync()
    {
        foreach (var instance in _policyInstances)
            await instance.GetRequiredService<SuspensionCache>().RefreshAsync(CancellationToken.None);
    }

    /// <summary>Publishes as the policy service would (a forged or replayed command).</summary>
    public async Task PublishAsPolicyAsync<T>(T message, Guid? messageId = null, string? routingKey = null)
        where T : class
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await _policyBus.Publish(message, send =>
        {
            if (messageId is { } id)
                send.MessageId = id;
            if (routingKey is not null)
                send.SetRoutingKey(routingKey);
        }, timeout.Token);
    }

    /// <summary>Runs `agentbus agents|tools suspend|resume` in-process against this fixture's servers.</summary>
    public async Task<int> OperatorAsync(string noun, string verb, string name, string operatorName, string? reason = null)
    {
        var command = noun == "agents" ? AgentBus.Cli.Commands.OperatorCommands.Agents() : AgentBus.Cli.Commands.OperatorCommands.Tools();
        string[] args =
        [
            verb, name, "--operator", operatorName, "--postgres", ConnectionString, "--rabbitmq-host", Servers.RabbitHost,
            "--rabbitmq-port", Servers.RabbitPort.ToString(), "--vhost", VirtualHost, "--secrets-dir", Secrets.Directory,
            .. reason is null ? Array.Empty<string>() : ["--reason", reason],
        ];
        return await command.Parse(args).InvokeAsync();
    }

    /// <summary>The approvals service's settings as environment variables, for running it as a child process.</summary>
    public IReadOnlyDictionary<string, string?> ApprovalsEnvironment() =>
        ApprovalsSettings(new Dictionary<string, string?> { ["Database:ApplyMigrations"] = "false" })
            .ToDictionary(s => s.Key.Replace(":", "__", StringComparison.Ordinal), s => s.Value);

    protected override IReadOnlyList<string> Agents => ["support-bot", "intern-bot", "hasty-bot", "python-agent"];

    public ApprovalsFactory Approvals => _approvals ??= StartApprovals();

    public ApproverStore Approvers { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _policyBus = (await PublisherAsync(BrokerTopology.PolicyUser)).Services.GetRequiredService<IBus>();
        _operatorBus = (await PublisherAsync(BrokerTopology.OperatorUser)).Services.GetRequiredService<IBus>();
        _approvalsBus = (await PublisherAsync(BrokerTopology.ApprovalsUser)).Services.GetRequiredService<IBus>();
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
            ["Approvals:PolicyFile"] = PolicyFile,
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

    /// <summary>Stops the in-process approvals service (a test then runs it as a child process); <see cref="Approvals"/> starts it again.</summary>
    public async Task StopApprovalsAsync()
    {
        if (_approvals is not null)
            await _approvals.DisposeAsync();
        _approvals = null;
    }

    /// <summary>Publishes as the approvals service would (a replayed or forged outcome).</summary>
    public async Task PublishAsApprovalsAsync<T>(T message, Guid? messageId = null)
        where T : class
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await _approvalsBus.Publish(message, send => { if (messageId is { } id) send.MessageId = id; }, timeout.Token);
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
        return new ApprovalRequested(MessageIds.Approval(agent, actionId), actionId, runId ?? $"run-{actionId[..8]}", agent, "support", tool, args,
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
