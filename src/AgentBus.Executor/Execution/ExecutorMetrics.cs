using System.Diagnostics.Metrics;
using AgentBus.ServiceDefaults.Telemetry;

namespace AgentBus.Executor.Execution;

/// <summary>The executor's instruments on the shared "AgentBus" meter.</summary>
public static class ExecutorMetrics
{
    /// <summary>Commands handled, tagged with the tool and the outcome (succeeded, failed, outcome_unknown, refused, cached, repeated).</summary>
    public static readonly Counter<long> Commands = AgentBusTelemetry.Meter.CreateCounter<long>("agentbus.tool.commands", description: "ExecuteTool commands handled by outcome");

    public static readonly Counter<long> Retries = AgentBusTelemetry.Meter.CreateCounter<long>("agentbus.tool.retries", description: "Tool call attempts retried");

    public static readonly Histogram<double> Duration = AgentBusTelemetry.Meter.CreateHistogram<double>("agentbus.tool.duration", "ms", "Tool call duration, all attempts");

    public static void Count(string tool, string outcome) =>
        Commands.Add(1, new KeyValuePair<string, object?>("tool", tool), new KeyValuePair<string, object?>("outcome", outcome));
}
