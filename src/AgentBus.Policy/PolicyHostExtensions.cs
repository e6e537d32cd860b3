using AgentBus.Policy.Proposals;
using AgentBus.Policy.Engine;
using AgentBus.ServiceDefaults;
using AgentBus.ServiceDefaults.Messaging;

namespace AgentBus.Policy;

public static class PolicyHostExtensions
{
    public static IHostApplicationBuilder AddPolicy(this IHostApplicationBuilder builder)
    {
        builder.AddDefaultSettings([new("Policy:File", "ops/policies/policy.yaml")]);
        builder.Services.AddValidatedOptions<PolicyOptions>(PolicyOptions.Section);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<PolicyStore>();
        builder.AddExecutionAuthorizer();
        builder.AddAgentBusMessaging("agentbus-policy", bus => bus.AddConsumer<ProposalConsumer>(typeof(ProposalConsumerDefinition)));
        return builder;
    }
}
