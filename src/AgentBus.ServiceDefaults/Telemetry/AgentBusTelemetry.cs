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
    /// Marks the current span with the action and run, and puts the run id in baggage so every
    /// message sent from here carries it to the next hop.
    /// </summary>
    public static void TagAction(string? actionId, string? runId)
    {
        if (Activity.Current is not { } activity)
            return;
        if (actionId is not null)
            activity.SetTag(ActionIdKey, actionId);
        if (runId is not null)
        {
            activity.SetTag(RunIdKey, runId);
            activity.SetBaggage(RunIdKey, runId);
        }
    }
}
