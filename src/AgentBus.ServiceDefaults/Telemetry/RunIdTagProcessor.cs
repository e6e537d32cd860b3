using System.Diagnostics;
using OpenTelemetry;

namespace AgentBus.ServiceDefaults.Telemetry;

/// <summary>
/// Tags every recorded span with the run id its baggage carries, so a trace can be found by run in
/// any viewer without each call site remembering to tag. At the end too: a receive span learns its
/// baggage only once the message is read.
/// </summary>
public sealed class RunIdTagProcessor : BaseProcessor<Activity>
{
    public override void OnStart(Activity data) => AgentBusTelemetry.TagRunFromBaggage(data);

    public override void OnEnd(Activity data) => AgentBusTelemetry.TagRunFromBaggage(data);
}
