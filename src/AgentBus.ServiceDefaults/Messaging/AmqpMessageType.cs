using MassTransit;

namespace AgentBus.ServiceDefaults.Messaging;

/// <summary>
/// Puts the short message name (e.g. <c>ActionDecided</c>) in the AMQP <c>type</c> property, which
/// is how an agent in any language tells replies apart (contracts/README.md).
/// </summary>
static class AmqpMessageType
{
    public static void Set(SendContext context)
    {
        if (context.SupportedMessageTypes is not [var urn, ..] || !context.TryGetPayload(out RabbitMqSendContext? rabbit))
            return;
        var separator = urn.LastIndexOf(':');
        rabbit.BasicProperties.Type = separator < 0 ? urn : urn[(separator + 1)..];
    }
}
