using MassTransit;
using MassTransit.Context;
using MassTransit.Transports;
using RabbitMQ.Client;

namespace AgentBus.ServiceDefaults.Messaging;

/// <summary>
/// MassTransit moves a faulted or skipped message to its _error or _skipped queue by republishing
/// it with a copy of its AMQP properties. For a message an agent published, that copy carries the
/// agent's user_id, which RabbitMQ refuses (406 PRECONDITION_FAILED) from the service's own
/// connection: the move fails and the message is redelivered forever. These filters hand the move
/// a view of the message without user_id, keeping the validated identity in
/// <see cref="BrokerIdentity.OriginalUserIdHeader"/> for whoever inspects or replays it.
/// </summary>
public static class MoveWithoutBrokerUserId
{
    public sealed class ErrorFilter : IFilter<ExceptionReceiveContext>
    {
        public async Task Send(ExceptionReceiveContext context, IPipe<ExceptionReceiveContext> next)
        {
            if (!context.TryGetPayload(out IErrorTransport? transport))
                throw new TransportException(context.InputAddress, "No error transport is available to move the faulted message.");

            await transport.Send(Stripped(context) is { } stripped ? new StrippedException(context, stripped) : context);
            await next.Send(context);
        }

        public void Probe(ProbeContext context) => context.CreateFilterScope("moveFaultWithoutUserId");
    }

    public sealed class DeadLetterFilter : IFilter<ReceiveContext>
    {
        public async Task Send(ReceiveContext context, IPipe<ReceiveContext> next)
        {
            if (!context.TryGetPayload(out IDeadLetterTransport? transport))
                throw new TransportException(context.InputAddress, "No dead-letter transport is available to move the skipped message.");

            await transport.Send(Stripped(context) is { } stripped ? new StrippedReceive(context, stripped) : context, "dead-letter");
            await next.Send(context);
        }

        public void Probe(ProbeContext context) => context.CreateFilterScope("deadLetterWithoutUserId");
    }

    static WithoutUserId? Stripped(ReceiveContext context) =>
        context.TryGetPayload(out RabbitMqBasicConsumeContext? basic) && basic.Properties.IsUserIdPresent() ? new WithoutUserId(basic) : null;

    // The RabbitMQ receive context is itself the RabbitMqBasicConsumeContext, so a replaced payload
    // would never be seen; a proxy that answers for that type is.
    sealed class StrippedReceive(ReceiveContext context, WithoutUserId basic) : ReceiveContextProxy(context)
    {
        public override bool TryGetPayload<T>(out T payload) where T : class
        {
            if (typeof(T) == typeof(RabbitMqBasicConsumeContext))
            {
                payload = (T)(object)basic;
                return true;
            }
            return base.TryGetPayload(out payload);
        }
    }

    sealed class StrippedException(ExceptionReceiveContext context, WithoutUserId basic) : ReceiveContextProxy(context), ExceptionReceiveContext
    {
        public Exception Exception => context.Exception;
        public DateTime ExceptionTimestamp => context.ExceptionTimestamp;
        public ExceptionInfo ExceptionInfo => context.ExceptionInfo;
        public SendHeaders ExceptionHeaders => context.ExceptionHeaders;

        public override bool TryGetPayload<T>(out T payload) where T : class
        {
            if (typeof(T) == typeof(RabbitMqBasicConsumeContext))
            {
                payload = (T)(object)basic;
                return true;
            }
            return base.TryGetPayload(out payload);
        }
    }

    sealed class WithoutUserId(RabbitMqBasicConsumeContext inner) : RabbitMqBasicConsumeContext
    {
        public string Exchange => inner.Exchange;
        public string ConsumerTag => inner.ConsumerTag;
        public ulong DeliveryTag => inner.DeliveryTag;
        public string RoutingKey => inner.RoutingKey ?? "";
        public IReadOnlyBasicProperties Properties { get; } = Strip(inner.Properties);

        static BasicProperties Strip(IReadOnlyBasicProperties original)
        {
            var headers = original.Headers is null
                ? new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase)
                : new Dictionary<string, object?>(original.Headers, StringComparer.OrdinalIgnoreCase);
            headers[BrokerIdentity.OriginalUserIdHeader] = original.UserId;
            var copy = new BasicProperties(original) { Headers = headers };
            copy.ClearUserId();
            return copy;
        }
    }
}
