using MassTransit;
using RabbitMQ.Client;

namespace AgentBus.ServiceDefaults.Messaging;

/// <summary>
/// MassTransit moves a faulted or skipped message by republishing it with a copy of its AMQP
/// properties. For a message an agent published, that copy carries the agent's user_id, which
/// RabbitMQ refuses (406) from the service's own connection, so the move fails and the message is
/// redelivered forever. This filter runs before the move: it drops user_id and keeps the
/// validated identity in <see cref="BrokerIdentity.OriginalUserIdHeader"/> for the operator.
/// </summary>
public sealed class ForgetBrokerUserIdFilter<TContext> : IFilter<TContext>
    where TContext : class, ReceiveContext
{
    public Task Send(TContext context, IPipe<TContext> next)
    {
        if (context.TryGetPayload(out RabbitMqBasicConsumeContext? basic) && basic.Properties.IsUserIdPresent())
            context.AddOrUpdatePayload<RabbitMqBasicConsumeContext>(() => new WithoutUserId(basic), existing => new WithoutUserId(existing));

        return next.Send(context);
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("forgetBrokerUserId");

    sealed class WithoutUserId(RabbitMqBasicConsumeContext inner) : RabbitMqBasicConsumeContext
    {
        public string Exchange => inner.Exchange;
        public string ConsumerTag => inner.ConsumerTag;
        public ulong DeliveryTag => inner.DeliveryTag;
        public string RoutingKey => inner.RoutingKey ?? "";
        public IReadOnlyBasicProperties Properties { get; } = Strip(inner.Properties);

        static BasicProperties Strip(IReadOnlyBasicProperties original)
        {
            var copy = new BasicProperties(original);
            var headers = original.Headers is null
                ? new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase)
                : new Dictionary<string, object?>(original.Headers, StringComparer.OrdinalIgnoreCase);
            if (original.IsUserIdPresent())
                headers[BrokerIdentity.OriginalUserIdHeader] = original.UserId;
            copy.Headers = headers;
            copy.ClearUserId();
            return copy;
        }
    }
}
