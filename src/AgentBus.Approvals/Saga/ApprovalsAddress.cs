using AgentBus.Contracts;

namespace AgentBus.Approvals.Saga;

public static class ApprovalsAddress
{
    /// <summary>
    /// The saga's queue, reached through the exchange MassTransit names after it (bound by `agentbus
    /// broker apply`). A "queue:" address would make the sender declare the queue itself, as a classic
    /// queue, which RabbitMQ refuses for the quorum queue that is there.
    /// </summary>
    public static Uri Queue { get; } = new($"exchange:{WireNames.ApprovalsQueue}");
}
