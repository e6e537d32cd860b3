using AgentBus.ServiceDefaults.Database;
using AgentBus.Audit.Redaction;
using AgentBus.Contracts;
using AgentBus.Projections.Audit;
using AgentBus.ServiceDefaults;
using AgentBus.ServiceDefaults.Messaging;
using MassTransit;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace AgentBus.Projections;

public static class ProjectionsHostExtensions
{
    /// <summary>The tables and functions the projections service owns (Database/Migrations of this project).</summary>
    public static readonly MigrationSet Migrations = new("projections", typeof(ProjectionsHostExtensions).Assembly);

    public static IHostApplicationBuilder AddProjections(this IHostApplicationBuilder builder)
    {
        builder.AddOwnedMigrations(Migrations);
        if (builder.Configuration[$"{AuditOptions.Section}:{nameof(AuditOptions.RedactionFile)}"] is { Length: > 0 } redactionFile)
        {
            var path = Path.GetFullPath(redactionFile);
            if (!File.Exists(path))
                throw new InvalidOperationException($"Audit:RedactionFile '{redactionFile}' does not exist (looked for {path}).");
            builder.Configuration.AddJsonFile(path, optional: false, reloadOnChange: false);
        }

        builder.Services.AddValidatedOptions<AuditOptions>(AuditOptions.Section, AuditOptions.Problems);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(services => new AuditRedactor(services.GetRequiredService<IOptions<AuditOptions>>().Value.Redaction));
        builder.Services.AddSingleton<AuditStore>();
        builder.Services.AddHostedService<RawPayloadPurger>();
        builder.Services.AddHostedService<AuthorizationSweeper>();

        builder.AddAgentBusMessaging("agentbus-projections", bus =>
        {
            // Events from AgentBus's own services, on agentbus.projections: one line per event type.
            bus.AddAuditEvent<ActionDecided>(AuditEntry.From);
            // The policy service keeps each command for the audit, which records it with the outcome
            // (AuditStore, AuthorizationSweeper): no copy of ExecuteTool reaches this queue any more.
            // Kept for copies routed here before the binding went (`agentbus broker apply` removes it).
            bus.AddAuditEvents<ExecuteTool>(AuditEntry.WithDecision);
            // Executors no longer publish ExecutionStarted: the outcome carries the start, recorded
            // under the id the start always had. Kept for commands run by an executor of an older version.
            // Every executor may write the outcome exchanges, so the broker cannot tell one tool's
            // executor from another's there: an outcome counts only from the executors of the tool it
            // names (or from policy, which copies outcomes to duplicates), as policy settles them.
            bus.AddAuditEvents<ExecutionStarted>((id, e) => [AuditEntry.From(id, e)], (e, sender) => OutcomeTrust.Of(e.Tool, sender));
            bus.AddAuditEvents<ActionSucceeded>(AuditEntry.WithStart, OutcomeTrust.Of);
            bus.AddAuditEvents<ActionFailed>(AuditEntry.WithStart, OutcomeTrust.Of);
            bus.AddAuditEvent<OperatorActionTaken>(AuditEntry.From);
            bus.AddAuditEvent<PolicyFileRefused>(AuditEntry.From);
            bus.AddAuditEvent<ApprovalRequested>(AuditEntry.From);
            bus.AddAuditEvent<ApprovalVoteRecorded>(AuditEntry.From);
            bus.AddAuditEvent<ApprovalGranted>(AuditEntry.From);
            bus.AddAuditEvent<ApprovalDenied>(AuditEntry.From);
            bus.AddAuditEvent<ApprovalExpired>(AuditEntry.From);
            bus.AddAuditEvent<ApprovalCancelled>(AuditEntry.From);
            bus.AddAuditEvent<ApprovalEscalated>(AuditEntry.From);
            bus.AddAuditEvent<ApprovalConsumed>(AuditEntry.From);
            bus.AddAuditEvent<ApprovalConsumptionRefused>(AuditEntry.From);

            // Messages written by agents: endpoints of their own that record even what cannot be read.
            bus.AddConsumer<ProposalAuditConsumer, ProposalAuditConsumerDefinition>();
            bus.AddConsumer<RunReportConsumer, RunReportConsumerDefinition>();
        });
        return builder;
    }
}
