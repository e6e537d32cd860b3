using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace AgentBus.ServiceDefaults.Telemetry;

/// <summary>The project's own trace source and meter; MassTransit's are named "MassTransit".</summary>
public static class AgentBusTelemetry
{
    public const string Name = "AgentBus";

    /// <summary>Baggage and tag key under which the run id travels on every span.</summary>
    public const string RunIdKey = "agentbus.run_id";

    public const string ActionIdKey = "agentbus.action_id";

    public static readonly ActivitySource Source = new(Name);

    public static readonly Meter Meter = new(Name);

    /// <summary>
    /// Marks the current span, and the spans of this hop it belongs to (the receive span MassTransit
    /// started before the message could be read), with the action and run, and puts the run id in
    /// baggage so every message sent from here carries it to the next hop.
    /// </summary>
    public static void TagAction(string? actionId, string? runId)
    {
        if (Activity.Current is not { } activity)
            return;
        // The message's own run id wins over whatever baggage the sender attached.
        if (runId is not null)
        {
            activity.SetBaggage(RunIdKey, runId);
            activity.SetTag(RunIdKey, runId);
        }
        if (actionId is not null)
            activity.SetTag(ActionIdKey, actionId);
        for (var span = activity.Parent; span is not null; span = span.Parent)
        {
            if (actionId is not null && span.GetTagItem(ActionIdKey) is null)
                span.SetTag(ActionIdKey, actionId);
            if (runId is not null && span.GetTagItem(RunIdKey) is null)
                span.SetTag(RunIdKey, runId);
        }
    }

    /// <summary>Copies the run id from the span's baggage (its own or inherited) to a tag on it.</summary>
    public static void TagRunFromBaggage(Activity activity)
    {
        if (activity.GetTagItem(RunIdKey) is null && activity.GetBaggageItem(RunIdKey) is { Length: > 0 } runId)
            activity.SetTag(RunIdKey, runId);
    }
}
