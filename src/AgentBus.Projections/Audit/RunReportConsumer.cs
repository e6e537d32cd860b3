using AgentBus.Audit.Redaction;
using AgentBus.Contracts;
using AgentBus.ServiceDefaults.Messaging;
using MassTransit;
using Microsoft.Extensions.Options;

namespace AgentBus.Projections.Audit;

/// <summary>
/// Records agents' reports that a run is over (RunCompleted) and marks the run succeeded or failed.
/// A report only counts for the agent RabbitMQ validated as its sender: one naming another agent,
/// or with no user_id, or that cannot be read, is recorded as rejected and changes no run.
/// </summary>
public sealed class RunReportConsumer(AuditStore store, IOptions<AuditOptions> options, TimeProvider clock) : IConsumer<Batch<RunCompleted>>
{
    public const int MaxSummaryLength = 2000;

    public async Task Consume(ConsumeContext<Batch<RunCompleted>> context)
    {
        var now = clock.GetUtcNow();
        var entries = context.Message.Select(item => Entry(AgentIngress.Of(item), item.Message, now)).ToList();
        await store.AppendAsync(entries, context.CancellationToken);
    }

    AuditEntry Entry(AgentIngress ingress, RunCompleted report, DateTimeOffset now)
    {
        var eventId = ingress.EventId(nameof(RunCompleted));
        if (ingress.Rejection is { } rejection)
            return new AuditEntry(eventId, nameof(RunCompleted), null, rejection.RunId, ingress.Sender, null, "malformed", rejection.ReasonCode,
                ingress.Description(rejection), now, new RunChange())
            {
                Actor = ingress.Sender,
                CorrelationId = ingress.MessageId,
                RawPayload = ingress.Raw(options.Value.MaxIngressBytes),
                AffectsRun = false,
            };

        var refusal = ingress.Sender is null ? ReasonCodes.IdentityMissing
            : string.IsNullOrWhiteSpace(report.AgentId) || string.IsNullOrWhiteSpace(report.RunId) ? ReasonCodes.MissingField
            : report.AgentId != ingress.Sender ? ReasonCodes.IdentityMismatch
            : null;
        var payload = ingress.BodyText ?? ingress.Description(new IngressRejection(ReasonCodes.InvalidUtf8, "unreadable"));
        if (refusal is not null)
            return new AuditEntry(eventId, nameof(RunCompleted), null, report.RunId, ingress.Sender, null, "rejected", refusal, payload, now, new RunChange())
            {
                Actor = ingress.Sender,
                CorrelationId = ingress.MessageId,
                AffectsRun = false,
            };

        var summary = report.Summary is null ? null : AuditText.Clean(report.Summary);
        if (summary is { Length: > MaxSummaryLength })
            summary = summary[..(MaxSummaryLength - 1)] + "…";
        return new AuditEntry(eventId, nameof(RunCompleted), null, report.RunId, ingress.Sender, null, report.Succeeded ? "succeeded" : "failed",
            null, payload, now, new RunChange(Completion: new RunCompletion(report.Succeeded, summary, now)))
        {
            Actor = ingress.Sender,
            CorrelationId = ingress.MessageId,
        };
    }
}

public sealed class RunReportConsumerDefinition : ConsumerDefinition<RunReportConsumer>
{
    readonly AuditOptions _options;

    public RunReportConsumerDefinition(IOptions<AuditOptions> options)
    {
        _options = options.Value;
        EndpointName = WireNames.ProjectionsRunReportsQueue;
        ConcurrentMessageLimit = _options.PrefetchCount;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpoint, IConsumerConfigurator<RunReportConsumer> consumer,
        IRegistrationContext context)
    {
        endpoint.ConfigureAgentIngress<RunCompleted>(_options.MaxIngressBytes);
        AuditBatching.Configure(endpoint, consumer, _options);
    }
}
