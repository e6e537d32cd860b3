using AgentBus.Projections.Audit;
using AgentBus.ServiceDefaults.Messaging;

namespace AgentBus.Projections;

public static class ProjectionsHostExtensions
{
    public static IHostApplicationBuilder AddProjections(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<AuditStore>();
        builder.AddAgentBusMessaging("agentbus-projections", bus => bus.AddConsumer<AuditProjection>(typeof(AuditProjectionDefinition)));
        return builder;
    }
}
