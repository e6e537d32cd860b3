using System.Net.Http.Headers;
using System.Text;
using AgentBus.Approvals;
using AgentBus.Approvals.Approvers;
using AgentBus.IntegrationTests.Infrastructure;
using AgentBus.IntegrationTests.Operations;
using AgentBus.Mcp;
using AgentBus.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.Client;
using Npgsql;

namespace AgentBus.IntegrationTests.Gateway;

/// <summary>
/// The pipeline with the demo's catalog, the approvals service, and the MCP gateway in front: agents
/// reach AgentBus only through the gateway's /mcp and /v1/operations, signed in with their own
/// broker passwords. support-bot's refunds above 100 USD need one approver of 'finance'.
/// </summary>
public sealed class GatewayFixture : PipelineFixture
{
    public const string PolicyYaml = """
        agents:
          - { id: support-bot, team: support, owner: alice }
          - { id: intern-bot, team: support, owner: alice }
          - { id: python-agent, team: platform }
          - { id: rotating-bot, team: platform }
        teams:
          - { id: support, members: [sam, tina] }
        catalog: catalog
        grants:
          - id: support-bot-desk
            agent: support-bot
            tool: ticketing
            operations: [create_ticket, get_ticket, comment]
          - id: support-bot-orders
            agent: support-bot
            tool: payments
            operations: [get_order]
          - id: support-bot-refunds
            agent: support-bot
            tool: payments
            operations: [refund]
            approval:
              id: refunds-over-100
              when: [{ argument: /amountUsd, above: 100 }]
              group: finance
              approvers: 1
              expires: 10m
          - id: intern-bot-comments
            agent: intern-bot
            tool: ticketing
            operations: [comment]
          - id: python-agent-desk
            agent: python-agent
            tool: ticketing
            operations: [create_ticket, comment]
          - id: rotating-bot-lookups
            agent: rotating-bot
            tool: ticketing
            operations: [get_ticket]
        """;

    /// <summary>rotating-bot's broker password is changed by a test; broker users are shared by every fixture, so it is its own.</summary>
    protected override IReadOnlyList<string> Agents => ["support-bot", "intern-bot", "python-agent", "rotating-bot"];

    protected override string Policy => PolicyYaml;

    string CatalogDirectory => Path.Combine(Path.GetDirectoryName(PolicyFile)!, "catalog");

    public Uri GatewayUrl { get; private set; } = null!;

    public Uri ApprovalsUrl { get; private set; } = null!;

    public WebApplication GatewayHost { get; private set; } = null!;

    public ApproverStore Approvers { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        (ApprovalsUrl, Approvers) = await StartApprovalsAsync();
        await StartGatewayAsync();
    }

    public async Task StartGatewayAsync(Dictionary<string, string?>? extra = null)
    {
        GatewayHost = await StartOtherGatewayAsync(extra);
        GatewayUrl = AddressOf(GatewayHost);
    }

    /// <summary>Another gateway on the same pipeline with its own settings (a short timeout, a broker that is not there); stop it with StopHostAsync.</summary>
    public Task<WebApplication> StartOtherGatewayAsync(Dictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Mcp:PolicyFile"] = PolicyFile,
            ["Mcp:BrokerHost"] = Servers.RabbitHost,
            ["Mcp:BrokerPort"] = Servers.RabbitPort.ToString(),
            ["Mcp:BrokerVirtualHost"] = VirtualHost,
            ["Mcp:ApprovalsUrl"] = ApprovalsUrl.ToString(),
            ["Mcp:ReloadInterval"] = "00:00:00.200",
            ["Mcp:CallTimeout"] = "00:00:20",
            ["Mcp:PendingApprovalWait"] = "00:00:15",
            ["Mcp:CredentialRecheck"] = "00:00:01",
        };
        foreach (var (key, value) in extra ?? [])
            settings[key] = value;
        return StartHostAsync("gateway-holds-no-broker-user", [], b => b.AddMcpGateway(), settings, app => app.MapMcpGateway());
    }

    public async Task RestartGatewayAsync(Dictionary<string, string?>? extra = null)
    {
        await StopHostAsync(GatewayHost);
        await StartGatewayAsync(extra);
    }

    public static Uri AddressOf(WebApplication app) =>
        new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    public string PasswordOf(string agentId) => Secrets.GetOrCreate("rabbitmq", agentId);

    public static string BasicCredential(string agentId, string password) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes($"{agentId}:{password}"));

    /// <summary>The official C# MCP client, over Streamable HTTP, signed in as the agent.</summary>
    public Task<McpClient> McpClientAsync(string agentId, string? password = null, CancellationToken cancellationToken = default)
    {
        var transport = new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(GatewayUrl, "/mcp"),
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = "Basic " + BasicCredential(agentId, password ?? PasswordOf(agentId)) },
        });
        return McpClient.CreateAsync(transport, new McpClientOptions { InitializationTimeout = TimeSpan.FromSeconds(30) }, cancellationToken: cancellationToken);
    }

    public HttpClient GatewayHttp(string agentId, string? password = null)
    {
        var http = new HttpClient { BaseAddress = GatewayUrl, Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", BasicCredential(agentId, password ?? PasswordOf(agentId)));
        return http;
    }

    public HttpClient ApprovalsHttp(string token) => ApprovalsHttp(ApprovalsUrl, token);

    /// <summary>Runs `agentbus agents suspend|resume` in-process against this fixture's servers.</summary>
    public async Task<int> OperatorAsync(string verb, string agentId, string operatorName)
    {
        string[] args =
        [
            verb, agentId, "--operator", operatorName, "--postgres", ConnectionString, "--rabbitmq-host", Servers.RabbitHost,
            "--rabbitmq-port", Servers.RabbitPort.ToString(), "--vhost", VirtualHost, "--secrets-dir", Secrets.Directory, "--reason", "gateway test",
        ];
        return await AgentBus.Cli.Commands.OperatorCommands.Agents().Parse(args).InvokeAsync();
    }

    /// <summary>Writes a policy and waits until the gateway has it in force.</summary>
    public async Task UsePolicyAsync(string yaml)
    {
        await PolicyFiles.WriteAsync(PolicyFile, yaml);
        var store = GatewayHost.Services.GetRequiredService<OperationOffersStore>();
        var expected = AgentBus.Policy.Engine.PolicyLoader.LoadFile(PolicyFile).Policy?.Version ?? throw new InvalidOperationException("not a valid policy");
        await Eventually.True(() => Task.FromResult(store.Policy?.Version == expected), $"policy {expected} in force at the gateway", TimeSpan.FromSeconds(10));
    }

    protected override void WriteToolConfigurations() => OperationsFixture.WriteDemoCatalog(this, CatalogDirectory);
}

[CollectionDefinition(Name)]
public sealed class GatewayCollection : ICollectionFixture<GatewayFixture>
{
    public const string Name = "gateway";
}
