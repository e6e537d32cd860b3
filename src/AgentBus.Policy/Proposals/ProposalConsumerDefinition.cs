using AgentBus.Contracts;
using AgentBus.ServiceDefaults.Messaging;
using MassTransit;
using Microsoft.Extensions.Options;

namespace AgentBus.Policy.Proposals;

public sealed class ProposalConsumerDefinition : ConsumerDefinition<ProposalConsumer>
{
    readonly PolicyOptions _options;

    public ProposalConsumerDefinition(IOptions<PolicyOptions> options)
    {
        _options = options.Value;
        EndpointName = WireNames.PolicyProposalsQueue;
        ConcurrentMessageLimit = _options.ConcurrentMessageLimit;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpoint,
        IConsumerConfigurator<ProposalConsumer> consumer, IRegistrationContext context)
    {
        endpoint.ConfigureAgentIngress<ActionProposed>(_options.MaxProposalBytes);
        if (endpoint is IRabbitMqReceiveEndpointConfigurator rabbit)
            rabbit.PrefetchCount = _options.ConcurrentMessageLimit * 2;
    }
}
