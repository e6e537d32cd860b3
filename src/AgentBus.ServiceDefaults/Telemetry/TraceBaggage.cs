using System.Diagnostics;
using System.Text;
using MassTransit;
using MassTransit.Logging;

namespace AgentBus.ServiceDefaults.Telemetry;

/// <summary>
/// Carries OpenTelemetry baggage (the run id above all) across RabbitMQ hops in MassTransit's
/// <c>MT-Activity-Correlation-Context</c> header, as an AMQP table of strings. MassTransit 8.5 does
/// not manage this itself on RabbitMQ: it hands the header to the transport as a list, which the
/// RabbitMQ transport drops, and on receive it reads only string values, while RabbitMQ.Client
/// delivers AMQP strings as bytes. The trace parent (<c>MT-Activity-Id</c>) needs no help: it is a
/// top-level header, which MassTransit decodes.
/// </summary>
public static class TraceBaggage
{
    public const string Header = DiagnosticHeaders.ActivityCorrelationContext;

    /// <summary>A send/publish filter: the current baggage goes out with the message.</summary>
    public static void Write(SendContext context)
    {
        if (Activity.Current is not { } activity || !context.TryGetPayload(out RabbitMqSendContext? rabbit))
            return;

        Dictionary<string, object?>? table = null;
        foreach (var (key, value) in activity.Baggage)
        {
            // MassTransit's own ids travel in their own headers.
            if (key is DiagnosticHeaders.CorrelationId or DiagnosticHeaders.Messaging.ConversationId || string.IsNullOrWhiteSpace(value))
                continue;
            table ??= new Dictionary<string, object?>(StringComparer.Ordinal);
            table.TryAdd(key, value);
        }
        if (table is null)
            return;

        rabbit.BasicProperties.Headers ??= new Dictionary<string, object?>();
        rabbit.BasicProperties.Headers[Header] = table;
    }

    /// <summary>
    /// Puts the baggage a message carries on the span that received it (where every later span of
    /// this hop inherits it), and the run id on that span as a tag.
    /// </summary>
    public static void Read(ConsumeContext context)
    {
        if (Activity.Current is not { } activity)
            return;
        if (context.TryGetPayload(out RabbitMqBasicConsumeContext? basic)
            && basic.Properties.Headers is { } headers
            && headers.TryGetValue(Header, out var value)
            && value is IEnumerable<KeyValuePair<string, object?>> table)
        {
            foreach (var (key, item) in table)
            {
                var text = item switch
                {
                    byte[] bytes => Encoding.UTF8.GetString(bytes),
                    string s => s,
                    _ => null,
                };
                if (!string.IsNullOrWhiteSpace(text) && activity.GetBaggageItem(key) is null)
                    activity.SetBaggage(key, text);
            }
        }
        AgentBusTelemetry.TagRunFromBaggage(activity);
    }

    public sealed class ConsumeFilter : IFilter<ConsumeContext>
    {
        public Task Send(ConsumeContext context, IPipe<ConsumeContext> next)
        {
            Read(context);
            return next.Send(context);
        }

        public void Probe(ProbeContext context) => context.CreateFilterScope("traceBaggage");
    }
}
