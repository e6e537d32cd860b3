using AgentBus.Contracts;
using MassTransit;
using Microsoft.Extensions.Options;

namespace AgentBus.Approvals.Saga;

public sealed class ApprovalStateMachineDefinition : SagaDefinition<ApprovalState>
{
    readonly ApprovalsOptions _options;

    public ApprovalStateMachineDefinition(IOptions<ApprovalsOptions> options)
    {
        _options = options.Value;
        EndpointName = WireNames.ApprovalsQueue;
        ConcurrentMessageLimit = _options.ConcurrentMessageLimit;
    }

    protected override void ConfigureSaga(IReceiveEndpointConfigurator endpoint, ISagaConfigurator<ApprovalState> saga, IRegistrationContext context)
    {
        // Bindings from the approval-requested and consume-approval exchanges are provisioned by
        // `agentbus broker apply`; votes, sweeps and cancellations are sent to this queue directly.
        endpoint.ConfigureConsumeTopology = false;
        // Published outcomes and replies leave only after the saga's transaction committed; a rolled-back
        // transition sends nothing, and the retried message decides again.
        endpoint.UseInMemoryOutbox(context);
        if (endpoint is IRabbitMqReceiveEndpointConfigurator rabbit)
            rabbit.PrefetchCount = _options.ConcurrentMessageLimit * 2;
    }
}
