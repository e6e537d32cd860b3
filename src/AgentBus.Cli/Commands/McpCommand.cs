using System.CommandLine;
using AgentBus.Mcp;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Server;
using Spectre.Console;

namespace AgentBus.Cli.Commands;

/// <summary>
/// `agentbus mcp`: the MCP gateway for one local agent over stdin/stdout, so a desktop client can start it
/// as a local server. The same operations, call semantics and broker identity as the HTTP gateway: every
/// call is a proposal published on a broker login as this agent.
/// </summary>
static class McpCommand
{
    public static Command Create()
    {
        var agent = new Option<string>("--agent") { Description = "The agent to act as (its broker user name)", Required = true };
        var passwordFile = new Option<string>("--password-file") { Description = "A file holding the agent's broker password", Required = true };
        var policy = new Option<string>("--policy")
        {
            Description = "The policy in force, for the operations offered (default: $AGENTBUS_POLICY_FILE)",
            DefaultValueFactory = _ => Cli.Env("AGENTBUS_POLICY_FILE") ?? "",
        };
        var approvalsUrl = new Option<string>("--approvals-url")
        {
            Description = "Where approvers decide, for the link in approval_required answers (default: $AGENTBUS_APPROVALS_URL or http://127.0.0.1:5104)",
            DefaultValueFactory = _ => Cli.Env("AGENTBUS_APPROVALS_URL") ?? "http://127.0.0.1:5104",
        };
        var broker = new BrokerAddressOptions();
        var vhost = Cli.VirtualHost();
        var command = new Command("mcp", "Speak MCP on stdin/stdout as one agent: its granted operations as tools, each call proposed to AgentBus as that agent.")
        {
            agent, passwordFile, policy, approvalsUrl, broker.Host, broker.Port, broker.Endpoints, vhost,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            try
            {
                var agentId = result.GetValue(agent)!;
                var policyFile = Cli.Required(result, policy, "the policy file whose grants decide the tools offered");
                if (!File.Exists(policyFile))
                    throw new UsageException($"--policy {policyFile}: no such file.");
                var password = ReadPassword(result.GetValue(passwordFile)!);
                var address = broker.Address(result);
                return await RunAsync(agentId, password, new Dictionary<string, string?>
                {
                    ["Mcp:PolicyFile"] = policyFile,
                    ["Mcp:BrokerHost"] = address.Host,
                    ["Mcp:BrokerPort"] = address.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["Mcp:BrokerEndpoints"] = address.Endpoints,
                    ["Mcp:BrokerVirtualHost"] = result.GetValue(vhost),
                    ["Mcp:ApprovalsUrl"] = result.GetValue(approvalsUrl),
                    // One local agent: its connection stays open while the client runs.
                    ["Mcp:IdleTimeout"] = "1.00:00:00",
                }, cancellationToken);
            }
            catch (UsageException ex)
            {
                // Standard output is the MCP channel: every word for people goes to standard error.
                Cli.Err.MarkupLine($"[red]error:[/] {Markup.Escape(ex.Message)}");
                return Cli.BadInput;
            }
        });
        return command;
    }

    static string ReadPassword(string path)
    {
        try
        {
            var password = File.ReadAllText(path).Trim();
            return password.Length > 0 ? password : throw new UsageException($"--password-file {path} is empty.");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--password-file {path}: {ex.Message}");
        }
    }

    static async Task<int> RunAsync(string agentId, string password, Dictionary<string, string?> settings, CancellationToken cancellationToken)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Configuration.AddEnvironmentVariables();
        builder.Logging.AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddGatewayCore();
        builder.Services.AddSingleton(new StdioAgent(agentId));
        builder.Services.AddSingleton<IAgentConnectionSource>(services => new StdioConnectionSource(agentId, password, services.GetRequiredService<AgentConnections>()));
        builder.Services.AddMcpServer(GatewayHost.ConfigureServer)
            .WithStdioServerTransport()
            .WithCallToolHandler((request, token) => request.Services!.GetRequiredService<UngrantedCalls>().CallAsync(request, token));
        builder.Services.AddOptions<McpServerOptions>()
            .Configure<OperationOffersStore>((options, offers) => options.ToolCollection = offers.ToolsFor(agentId));

        using var host = builder.Build();
        var offers = host.Services.GetRequiredService<OperationOffersStore>();
        if (offers.Policy is null)
        {
            Cli.Err.MarkupLine($"[red]error:[/] the policy does not load: {Markup.Escape(string.Join(" ", offers.Errors))}");
            return Cli.BadInput;
        }
        if (!offers.KnowsAgent(agentId))
        {
            Cli.Err.MarkupLine($"[red]error:[/] the policy names no agent '{Markup.Escape(agentId)}'.");
            return Cli.BadInput;
        }
        try
        {
            // Signed in before the client is served: a wrong password ends here, with a reason, not at the first call.
            await host.Services.GetRequiredService<AgentConnections>().AdmitAsync(agentId, password, cancellationToken);
        }
        catch (AgentAdmissionException ex)
        {
            Cli.Err.MarkupLine($"[red]error:[/] {Markup.Escape(ex.Message)}");
            return ex.Failure == AdmissionFailure.BrokerUnavailable ? Cli.Failed : Cli.BadInput;
        }
        await host.RunAsync(cancellationToken);
        return Cli.Ok;
    }

    sealed class StdioConnectionSource(string agentId, string password, AgentConnections connections) : IAgentConnectionSource
    {
        public Task<AgentConnection> GetAsync(string requested, CancellationToken cancellationToken) =>
            requested == agentId
                ? connections.AdmitAsync(agentId, password, cancellationToken)
                : throw new AgentAdmissionException(AdmissionFailure.WrongCredential, $"This server acts as '{agentId}' only.");
    }
}
