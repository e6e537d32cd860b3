using AgentBus.Operations.DeadLetters;

namespace AgentBus.Operations.Broker;

/// <summary>
/// The shape of every durable queue AgentBus owns: a quorum queue (replicated on a majority of the
/// cluster's nodes, every message on disk before it is confirmed), so a node's death neither loses
/// nor blocks what is queued. The services declare their queues with the same argument
/// (<c>SetQuorumQueue</c> in AddAgentBusMessaging); RabbitMQ refuses a declaration whose queue
/// type differs from the queue's.
/// </summary>
public static class BrokerQueues
{
    public const string QueueTypeArgument = "x-queue-type";
    public const string Quorum = "quorum";
    public const int DefaultDeliveryLimit = 10;
    public const string DeadLetterPolicyPrefix = "agentbus-dead-letter.";

    public static IReadOnlyDictionary<string, object> QuorumArguments { get; } = new Dictionary<string, object> { [QueueTypeArgument] = Quorum };

    /// <summary>
    /// What happens to a message the queue has handed out <paramref name="deliveryLimit"/> times
    /// without an acknowledgement: a consumer that crashes on it (or whose connection dies while it
    /// holds it) would otherwise get it back forever. The broker then moves it to the queue's _error
    /// exchange, where MassTransit's own faults go, with an x-death header that says why
    /// (delivery_limit). At-least-once dead-lettering keeps the message in the source queue until
    /// the _error queue has confirmed it; RabbitMQ allows that only with reject-publish overflow.
    /// A policy rather than queue arguments, so the limit can change without redeclaring the queue
    /// and the services' declarations need not repeat it.
    /// </summary>
    public static IReadOnlyDictionary<string, object> DeadLetterPolicy(string queue, int deliveryLimit) => new Dictionary<string, object>
    {
        ["delivery-limit"] = deliveryLimit,
        ["dead-letter-exchange"] = queue + DeadLetterQueues.ErrorSuffix,
        ["dead-letter-strategy"] = "at-least-once",
        ["overflow"] = "reject-publish",
    };

    public static string DeadLetterPolicyName(string queue) => DeadLetterPolicyPrefix + queue;
}
