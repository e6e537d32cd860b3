using AgentBus.Contracts;
using AgentBus.ServiceDefaults.Messaging;
using MassTransit;
using Microsoft.Extensions.Options;

namespace AgentBus.Projections.Audit;

/// <summary>
/// Records every proposal as the agent sent it, from the proposals exchange (the policy service
/// reads its own copy). Bodies that cannot be read are recorded too, as "malformed" with the
/// reason code the policy service answers them with, their bytes kept in the raw tier. The agent
/// is the one RabbitMQ validated (AMQP user_id), whatever the body claims.
/// </summary>
public sealed class ProposalAuditConsumer(AuditStore store, IOptions<AuditOptions> options, TimeProvider clock) : IConsumer<Batch<ActionProposed>>
{
    public async Task Consume(ConsumeContext<Batch<ActionProposed>> context)
    {
        var now = clock.GetUtcNow();
        var entries = context.Message.Select(item => Entry(AgentIngress.Of(item), item.Message, now)).ToList();
        await store.AppendAsync(entries, context.CancellationToken);
    }

    AuditEntry Entry(AgentIngress ingress, ActionProposed proposal, DateTimeOffset now)
    {
        var eventId = ingress.EventId(nameof(ActionProposed));
        if (ingress.Rejection is { } rejection)
            return new AuditEntry(eventId, nameof(ActionProposed), rejection.ActionId, rejection.RunId, ingress.Sender, rejection.Tool,
                "malformed", rejection.ReasonCode, ingress.Description(rejection), now, new RunChange())
            {
                Actor = ingress.Sender,
                CorrelationId = ingress.MessageId,
                RawPayload = ingress.Raw(options.Value.MaxIngressBytes),
            };

        var known = proposal.RunId is { Length: > 0 } && ingress.Sender is not null;
        return new AuditEntry(eventId, nameof(ActionProposed), proposal.ActionId, proposal.RunId, ingress.Sender, proposal.Tool,
            "proposed", null, ingress.BodyText ?? ingress.Description(new IngressRejection(ReasonCodes.InvalidUtf8, "unreadable")),
            now, known ? new RunChange(Proposed: 1) : new RunChange())
        {
            Actor = ingress.Sender,
            CorrelationId = ingress.MessageId,
        };
    }
}

public sealed class ProposalAuditConsumerDefinition : ConsumerDefinition<ProposalAuditConsumer>
{
    readonly AuditOptions _options;

    public ProposalAuditConsumerDefinition(IOptions<AuditOptions> options)
    {
        _options = options.Value;
        EndpointName = WireNames.ProjectionsProposalsQueue;
        ConcurrentMessageLimit = _options.PrefetchCount;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpoint, IConsumerConfigurator<ProposalAuditConsumer> consumer,
        IRegistrationContext context)
    {
        endpoint.ConfigureAgentIngress<ActionProposed>(_options.MaxIngressBytes);
        AuditBatching.Configure(endpoint, consumer, _options);
    }
}
