using AgentBus.ServiceDefaults.Database;
using AgentBus.Policy.Approvals;
using AgentBus.Policy.Outcomes;
using AgentBus.Policy.Proposals;
using AgentBus.Policy.Rollback;
using AgentBus.Policy.Shadow;
using AgentBus.Policy.Versions;
using AgentBus.Policy.Spend;
using AgentBus.Policy.State;
using AgentBus.ServiceDefaults;
using AgentBus.ServiceDefaults.Messaging;

namespace AgentBus.Policy;

public static class PolicyHostExtensions
{
    /// <summary>The tables and functions the policy service owns (Database/Migrations of this project).</summary>
    public static readonly MigrationSet Migrations = new("policy", typeof(PolicyHostExtensions).Assembly);

    public static IHostApplicationBuilder AddPolicy(this IHostApplicationBuilder builder)
    {
        builder.AddOwnedMigrations(Migrations);
        builder.AddDefaultSettings([new("Policy:File", "ops/policies/policy.yaml")]);
        builder.Services.AddValidatedOptions<PolicyOptions>(PolicyOptions.Section);
        builder.Services.AddSingleton(TimeProvider.System);

        builder.Services.AddSingleton<PolicyStore>();
        builder.Services.AddHostedService(services => services.GetRequiredService<PolicyStore>());
        builder.Services.AddHealthChecks().AddCheck<PolicyStore>("policy", tags: ["ready"]);
        builder.Services.AddSingleton<SuspensionCache>();
        builder.Services.AddHostedService(services => services.GetRequiredService<SuspensionCache>());
        builder.Services.AddSingleton<AdmissionStore>();
        builder.Services.AddSingleton<CostLedger>();
        builder.Services.AddSingleton<OutcomeResolutions>();
        builder.Services.AddSingleton<ApprovalLedger>();
        builder.Services.AddSingleton<UndoRecords>();
        builder.Services.AddSingleton<ShadowPolicy>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ShadowPolicy>());
        builder.Services.AddSingleton<ShadowRecorder>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ShadowRecorder>());
        builder.Services.AddSingleton<PolicyVersionStore>();
        builder.Services.AddHostedService<PolicyVersionRecorder>();
        builder.Services.AddSingleton<CompensationCheck>();
        builder.Services.AddHostedService<StateSweeper>();
        builder.Services.AddSingleton<OutcomeCopySender>();
        builder.Services.AddHostedService(services => services.GetRequiredService<OutcomeCopySender>());
        builder.AddExecutionAuthorizer();

        builder.AddAgentBusMessaging("agentbus-policy", bus =>
        {
            bus.AddConsumer<ProposalConsumer>(typeof(ProposalConsumerDefinition));
            bus.AddConsumer<ResolutionConsumer>(typeof(ResolutionConsumerDefinition));
            bus.AddConsumer<SpendReportConsumer>(typeof(SpendReportConsumerDefinition));
            bus.AddConsumer<ApprovalOutcomeConsumer>(typeof(ApprovalOutcomeConsumerDefinition));
        });
        return builder;
    }
}
