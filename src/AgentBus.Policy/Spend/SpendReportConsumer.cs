using AgentBus.Contracts;
using AgentBus.Policy.Engine;
using AgentBus.Policy.State;
using AgentBus.ServiceDefaults.Messaging;
using AgentBus.ServiceDefaults.Telemetry;
using MassTransit;
using Microsoft.Extensions.Options;

namespace AgentBus.Policy.Spend;

/// <summary>
/// Inference spend agents report goes into the same ledger and budgets as tool calls, so a
/// budget sees everything an agent costs. A report carries no reply: a refused one is logged with
/// its reason and dropped (it never faults the queue); a repeated report id is recorded once.
/// </summary>
public sealed class SpendReportConsumer(CostLedger ledger, ILogger<SpendReportConsumer> logger) : IConsumer<SpendReported>
{
    static readonly SpendReportValidator Validator = new();

    public async Task Consume(ConsumeContext<SpendReported> context)
    {
        var sender = context.BrokerUserId();
        if (context.ReceiveContext.TryGetPayload(out IngressRejection? rejection))
        {
            logger.LogWarning("Spend report from {Sender} refused: {ReasonCode}: {Detail}", sender, rejection.ReasonCode, rejection.Detail);
            return;
        }

        var report = context.Message;
        var invalid = Validator.Validate(report);
        if (!invalid.IsValid)
        {
            logger.LogWarning("Spend report from {Sender} refused: {ReasonCode}: {Detail}", sender, invalid.Errors[0].ErrorCode, invalid.Errors[0].ErrorMessage);
            return;
        }
        if (sender is null || !string.Equals(sender, report.AgentId, StringComparison.Ordinal))
        {
            logger.LogWarning("Spend report {ReportId} refused: {ReasonCode}: broker user {Sender} may not report for agent {AgentId}",
                report.ReportId, sender is null ? ReasonCodes.IdentityMissing : ReasonCodes.IdentityMismatch, sender, report.AgentId);
            return;
        }

        var recorded = await ledger.RecordSpendAsync(report, context.CancellationToken);
        if (recorded)
            AgentBusMetrics.ReportedSpend(report.AgentId, report.Category, report.AmountUsd);
        logger.LogInformation("Spend report {ReportId} of agent {AgentId}, run {RunId}: ${Amount} {Category}{Repeat}",
            report.ReportId, report.AgentId, report.RunId, report.AmountUsd, report.Category, recorded ? "" : " (repeat, ignored)");
    }
}

public sealed class SpendReportConsumerDefinition : ConsumerDefinition<SpendReportConsumer>
{
    readonly PolicyOptions _options;

    public SpendReportConsumerDefinition(IOptions<PolicyOptions> options)
    {
        _options = options.Value;
        EndpointName = WireNames.PolicySpendReportsQueue;
        ConcurrentMessageLimit = 8;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpoint,
        IConsumerConfigurator<SpendReportConsumer> consumer, IRegistrationContext context)
    {
        endpoint.ConfigureAgentIngress<SpendReported>(_options.MaxSpendReportBytes);
        if (endpoint is IRabbitMqReceiveEndpointConfigurator rabbit)
            rabbit.PrefetchCount = 16;
    }
}
