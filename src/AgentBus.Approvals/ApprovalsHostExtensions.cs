using AgentBus.ServiceDefaults.Database;
using AgentBus.Approvals.Api;
using AgentBus.Approvals.Approvers;
using AgentBus.Approvals.Inbox;
using AgentBus.Approvals.Persistence;
using AgentBus.Approvals.Saga;
using AgentBus.Audit.Stories;
using AgentBus.Contracts;
using AgentBus.ServiceDefaults;
using AgentBus.ServiceDefaults.Messaging;
using MassTransit;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AgentBus.Approvals;

public static class ApprovalsHostExtensions
{
    /// <summary>The tables and functions the approvals service owns (Database/Migrations of this project).</summary>
    public static readonly MigrationSet Migrations = new("approvals", typeof(ApprovalsHostExtensions).Assembly);

    public static IHostApplicationBuilder AddApprovals(this IHostApplicationBuilder builder)
    {
        builder.AddOwnedMigrations(Migrations);
        builder.Services.AddValidatedOptions<ApprovalsOptions>(ApprovalsOptions.Section, ApprovalsOptions.Problems);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ApproverStore>();
        builder.Services.AddSingleton<AgentNames>();
        builder.Services.AddSingleton<ApprovalReadStore>();
        builder.Services.AddSingleton<RunStoryQuery>();
        builder.Services.AddScoped<ApprovalVoting>();
        builder.Services.AddHostedService<ApprovalSweeper>();
        builder.Services.AddAntiforgery(antiforgery => antiforgery.Cookie.Name = "agentbus-antiforgery");
        builder.AddApproverAuthentication();

        // The bus's reply queue (for the saga's answers to votes) is named inside the approvals user's rights.
        var replyQueue = $"{WireNames.ApprovalsQueue}.bus.{Guid.NewGuid():N}";
        builder.AddAgentBusMessaging("agentbus-approvals", bus =>
        {
            bus.AddSagaStateMachine<ApprovalStateMachine, ApprovalState>(typeof(ApprovalStateMachineDefinition))
                .PostgresRepository<ApprovalState>(ApprovalSagaTable.Configure);
            bus.AddConsumer<OperatorActionConsumer>(typeof(OperatorActionConsumerDefinition));
            bus.AddRequestClient<ApprovalVoteCast>(ApprovalsAddress.Queue);
        }, (_, cfg) => cfg.OverrideDefaultBusEndpointQueueName(replyQueue));
        return builder;
    }

    public static WebApplication MapApprovals(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseAntiforgery();
        app.MapApprovalApi();
        app.MapInbox();
        return app;
    }
}
