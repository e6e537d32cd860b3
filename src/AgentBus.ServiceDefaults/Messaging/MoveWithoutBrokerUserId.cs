using MassTransit;
using MassTransit.Context;
using MassTransit.Transports;
using RabbitMQ.Client;

namespace AgentBus.ServiceDefaults.Messaging;

/// <summary>
/// MassTransit moves a faulted or skipped message to its _error or _skipped queue by republishing
/// it with a copy of its AMQP properties. For a message an agent published (or an operator
/// replayed), that copy carries that user's user_id, which RabbitMQ refuses (406 PRECONDITION_FAILED)
/// from the service's own connection: the move fails and the message is redelivered forever. These
/// filters, on every endpoint, hand the move a view of the message without user_id, keeping the
/// validated sender (<see cref="BrokerIdentity.Sender"/>) in <see cref="BrokerIdentity.OriginalUserIdHeader"/>
/// for whoever inspects or replays it. A message that arrived with that header but no user_id wrote
/// the header itself: the move drops it, so a replay cannot lend it an identity.
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
        context.TryGetPayload(out RabbitMqBasicConsumeContext? basic) ? new WithoutUserId(basic) : null;

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
        public IReadOnlyBasicProperties Properties { get; } = DeadLetterProperties(inner.Properties, inner.Exchange);
    }

    /// <summary>The properties a dead letter is moved with: no user_id, the validated sender in the header.</summary>
    public static BasicProperties DeadLetterProperties(IReadOnlyBasicProperties original, string exchange)
    {
        // AMQP header names are case-sensitive: an agent may send names that differ only in case,
        // and the move must not trip over them. Any spelling of the identity header is the
        // publisher's own writing and goes.
        var headers = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (original.Headers is not null)
            foreach (var (key, value) in original.Headers)
                if (!key.Equals(BrokerIdentity.OriginalUserIdHeader, StringComparison.OrdinalIgnoreCase))
                    headers[key] = value;
        var sender = BrokerIdentity.Sender(original, exchange);
        if (sender is not null)
            headers[BrokerIdentity.OriginalUserIdHeader] = sender;
        var copy = new BasicProperties(original) { Headers = headers };
        copy.ClearUserId();
        return copy;
    }
}
