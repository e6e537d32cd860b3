using AgentBus.Cli.Commands;
using AgentBus.IntegrationTests.Infrastructure;
using AgentBus.Policy;
using AgentBus.Policy.Engine;
using AgentBus.Policy.State;
using AgentBus.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace AgentBus.IntegrationTests.Policy;

/// <summary>
/// The pipeline with a policy that has schemas, destinations, approval, limits and budgets, and
/// two policy instances competing on the proposals queue and sharing one database, as in a
/// scaled-out deployment.
/// </summary>
public sealed class PolicyFixture : PipelineFixture
{
    public const string PolicyYaml = """
        agents:
          - { id: support-bot, team: support }
          - { id: intern-bot, team: support }
          - { id: python-agent, team: platform }
          - { id: budget-bot, team: load }
          - { id: rate-bot, team: load }
        tools:
          - name: ticketing
            capabilities: [message.send]
            unitCostUsd: 0.002
            arguments:
              type: object
              required: [method, url]
              properties:
                method: { enum: [GET, POST] }
                url: { type: string }
                body: { type: object }
            destinations:
              from: [/url]
              hosts: [127.0.0.1]
          - name: payments
            capabilities: [money.move]
            risk: high
            unitCostUsd: 0.01
            destinations:
              from: [/url]
              hosts: [127.0.0.1]
        grants:
          - { id: support-tickets, agent: support-bot, tool: ticketing }
          - id: support-refunds
            agent: support-bot
            tool: payments
            approval:
              id: large-refund
              when: [{ argument: /body/amountUsd, above: 100 }]
              group: payments-approvers
              approvers: 2
              expires: 1h
          - { id: intern-tickets, agent: intern-bot, tool: ticketing }
          - { id: python-tickets, agent: python-agent, tool: ticketing }
          - { id: budget-tickets, agent: budget-bot, tool: ticketing }
          - { id: rate-tickets, agent: rate-bot, tool: ticketing }
        limits:
          agents:
            rate-bot: { callsPerMinute: 7 }
        budgets:
          agents:
            budget-bot: { perDayUsd: 100, perRunUsd: 0.04 }
        """;

    readonly List<IServiceProvider> _policyInstances = [];

    protected override string Policy => PolicyYaml;

    protected override IReadOnlyList<string> Agents => ["support-bot", "intern-bot", "python-agent", "budget-bot", "rate-bot"];

    /// <summary>Both policy hosts' services, for their policy store and suspension cache.</summary>
    public IReadOnlyList<IServiceProvider> PolicyInstances => _policyInstances;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await StartPolicyAsync();
    }

    protected override void ConfigureHost(string brokerUser, WebApplicationBuilder builder)
    {
        if (brokerUser != "agentbus-policy")
            return;
        builder.Configuration["Policy:ReloadInterval"] = "00:00:00.100";
        // Still 16 proposals in flight across the two instances, within the shared server's connections.
        builder.Configuration["Policy:ConcurrentMessageLimit"] = "8";
        builder.Services.AddHostedService(services => new Capture(services, _policyInstances));
    }

    sealed class Capture(IServiceProvider services, List<IServiceProvider> into) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            lock (into)
                into.Add(services);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>Writes a policy file and waits until every policy instance has it in force.</summary>
    public async Task UsePolicyAsync(string yaml)
    {
        var version = PolicyLoader.Parse(yaml, "x").Policy?.Version ?? throw new InvalidOperationException("not a valid policy");
        await PolicyFiles.WriteAsync(PolicyFile, yaml);
        await Eventually.True(() => Task.FromResult(PolicyInstances.All(p => p.GetRequiredService<PolicyStore>().Current?.Version == version)),
            $"policy {version} in force on every instance", TimeSpan.FromSeconds(10));
    }

    /// <summary>Empties state, restores the policy and the executors a test may have stopped.</summary>
    public async Task ResetAllAsync()
    {
        await ResetAsync();
        await UsePolicyAsync(PolicyYaml);
        foreach (var tool in Tools)
            if (!ExecutorHosts.ContainsKey(tool))
                await StartExecutorAsync(tool);
        foreach (var instance in PolicyInstances)
            await instance.GetRequiredService<SuspensionCache>().RefreshAsync(CancellationToken.None);
    }

    public async Task StopExecutorAsync(string tool)
    {
        if (ExecutorHosts.Remove(tool, out var host))
            await StopHostAsync(host);
    }

    /// <summary>Runs `agentbus agents|tools suspend|resume` in-process against this fixture's servers.</summary>
    public async Task<int> OperatorAsync(string noun, string verb, string name, string operatorName, string? reason = null)
    {
        var command = noun == "agents" ? OperatorCommands.Agents() : OperatorCommands.Tools();
        string[] args =
        [
            verb, name, "--operator", operatorName, "--postgres", ConnectionString, "--rabbitmq-host", Servers.RabbitHost,
            "--rabbitmq-port", Servers.RabbitPort.ToString(), "--vhost", VirtualHost, "--secrets-dir", Secrets.Directory,
            .. reason is null ? Array.Empty<string>() : ["--reason", reason],
        ];
        return await command.Parse(args).InvokeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class PolicyCollection : ICollectionFixture<PolicyFixture>
{
    public const string Name = "policy";
}
