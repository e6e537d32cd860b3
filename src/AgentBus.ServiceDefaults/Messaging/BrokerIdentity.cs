using MassTransit;
using RabbitMQ.Client;

namespace AgentBus.ServiceDefaults.Messaging;

public static class BrokerIdentity
{
    /// <summary>Where a message moved to an error or skipped queue keeps the identity RabbitMQ validated.</summary>
    public const string OriginalUserIdHeader = "AgentBus-Broker-User-Id";

    /// <summary>
    /// The AMQP user_id property, which RabbitMQ checks against the publishing connection's user:
    /// the only identity claim an agent cannot forge. Null when the publisher did not set it.
    /// </summary>
    public static string? BrokerUserId(this ConsumeContext context) =>
        context.TryGetPayload(out RabbitMqBasicConsumeContext? basic) && basic.Properties.IsUserIdPresent()
            ? basic.Properties.UserId
            : null;
}
