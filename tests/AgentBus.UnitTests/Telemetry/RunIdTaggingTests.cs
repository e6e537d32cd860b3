using System.Diagnostics;
using AgentBus.ServiceDefaults.Telemetry;

namespace AgentBus.UnitTests.Telemetry;

public sealed class RunIdTaggingTests : IDisposable
{
    readonly ActivitySource _source = new("AgentBus.UnitTests.RunId");
    readonly ActivityListener _listener;

    public RunIdTaggingTests()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source == _source,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public void Dispose()
    {
        _listener.Dispose();
        _source.Dispose();
    }

    [Fact]
    public void Tagging_an_action_marks_the_spans_of_this_hop_and_puts_the_run_in_baggage()
    {
        using var receive = _source.StartActivity("receive")!;
        using var consume = _source.StartActivity("consume")!;

        AgentBusTelemetry.TagAction("action-1", "run-1");

        Assert.Equal(("action-1", "run-1"), (consume.GetTagItem(AgentBusTelemetry.ActionIdKey), consume.GetTagItem(AgentBusTelemetry.RunIdKey)));
        Assert.Equal(("action-1", "run-1"), (receive.GetTagItem(AgentBusTelemetry.ActionIdKey), receive.GetTagItem(AgentBusTelemetry.RunIdKey)));
        Assert.Equal("run-1", consume.GetBaggageItem(AgentBusTelemetry.RunIdKey));

        using var send = _source.StartActivity("send")!;
        new RunIdTagProcessor().OnStart(send);
        Assert.Equal("run-1", send.GetTagItem(AgentBusTelemetry.RunIdKey));
    }

    [Fact]
    public void The_messages_own_run_id_wins_over_baggage_the_sender_attached()
    {
        using var receive = _source.StartActivity("receive")!;
        receive.SetBaggage(AgentBusTelemetry.RunIdKey, "claimed");
        using var consume = _source.StartActivity("consume")!;

        AgentBusTelemetry.TagAction("action-1", "actual");

        Assert.Equal("actual", consume.GetBaggageItem(AgentBusTelemetry.RunIdKey));
        Assert.Equal("actual", consume.GetTagItem(AgentBusTelemetry.RunIdKey));
    }

    [Fact]
    public void A_span_whose_baggage_arrives_after_it_started_is_tagged_when_it_ends()
    {
        using var receive = _source.StartActivity("receive")!;
        var processor = new RunIdTagProcessor();
        processor.OnStart(receive);
        Assert.Null(receive.GetTagItem(AgentBusTelemetry.RunIdKey));

        receive.SetBaggage(AgentBusTelemetry.RunIdKey, "run-2");
        processor.OnEnd(receive);

        Assert.Equal("run-2", receive.GetTagItem(AgentBusTelemetry.RunIdKey));
    }
}
