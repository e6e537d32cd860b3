using System.Diagnostics;
using AgentBus.Contracts;
using AgentBus.Operations.Broker;
using AgentBus.Client;
using AgentBus.IntegrationTests.Infrastructure;
using AgentBus.ServiceDefaults.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace AgentBus.IntegrationTests;

/// <summary>
/// The pipeline with OpenTelemetry's in-memory exporters. Every host here shares one process, and
/// OpenTelemetry listens process-wide, so one host's exporter sees every span; it is added to the
/// policy host only, which also listens to the agent client's source.
/// </summary>
public sealed class TelemetryFixture : PipelineFixture
{
    public SpanLog Spans { get; } = new();
    public SynchronizedList<MetricSnapshot> Metrics { get; } = new();

    protected override void ConfigureHost(string brokerUser, WebApplicationBuilder builder)
    {
        if (brokerUser != BrokerTopology.PolicyUser)
            return;
        builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddSource(AgentClient.ActivitySourceName).AddInMemoryExporter(Spans));
        builder.Services.ConfigureOpenTelemetryMeterProvider(metrics => metrics.AddInMemoryExporter(Metrics,
            reader => reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = 200));
    }
}

public sealed class SynchronizedList<T> : ICollection<T>
{
    readonly List<T> _items = [];
    readonly Lock _gate = new();

    public IReadOnlyList<T> Snapshot()
    {
        lock (_gate)
            return _items.ToList();
    }

    public void Add(T item)
    {
        lock (_gate)
            _items.Add(item);
    }

    public void Clear()
    {
        lock (_gate)
            _items.Clear();
    }

    public bool Contains(T item) => Snapshot().Contains(item);
    public void CopyTo(T[] array, int arrayIndex) => Snapshot().ToList().CopyTo(array, arrayIndex);
    public bool Remove(T item)
    {
        lock (_gate)
            return _items.Remove(item);
    }

    public int Count => Snapshot().Count;
    public bool IsReadOnly => false;
    public IEnumerator<T> GetEnumerator() => Snapshot().GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

public sealed class SpanLog : ICollection<Activity>
{
    readonly SynchronizedList<Activity> _spans = new();

    public IReadOnlyList<Activity> InTrace(ActivityTraceId traceId) => _spans.Snapshot().Where(s => s.TraceId == traceId).ToList();
    public IReadOnlyList<Activity> All => _spans.Snapshot();
    public void Add(Activity item) => _spans.Add(item);
    public void Clear() => _spans.Clear();
    public bool Contains(Activity item) => _spans.Contains(item);
    public void CopyTo(Activity[] array, int arrayIndex) => _spans.CopyTo(array, arrayIndex);
    public bool Remove(Activity item) => _spans.Remove(item);
    public int Count => _spans.Count;
    public bool IsReadOnly => false;
    public IEnumerator<Activity> GetEnumerator() => _spans.GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

[CollectionDefinition(Name)]
public sealed class TelemetryCollection : ICollectionFixture<TelemetryFixture>
{
    public const string Name = "telemetry";
}

[Collection(TelemetryCollection.Name)]
public sealed class TelemetryTests(TelemetryFixture fixture) : IAsyncLifetime
{
    public async Task InitializeAsync()
    {
        await fixture.ResetAsync();
        fixture.Spans.Clear();
    }

    public Task DisposeAsync() => Task.CompletedTask;

    static string? Tag(Activity span, string key) => span.GetTagItem(key)?.ToString();

    static bool Consumed(Activity s, string consumer) =>
        s.Source.Name == "MassTransit" && Tag(s, "messaging.masstransit.consumer_type") is { } type && type.EndsWith(consumer, StringComparison.Ordinal);

    /// <summary>The projections' batch consumer recording one message type.</summary>
    static bool Audited(Activity s, string messageType) => Consumed(s, $"AuditBatchConsumer<AgentBus.Contracts.{messageType}>");

    [Fact]
    public async Task One_action_is_one_trace_from_the_agents_publish_to_the_outcome_projection_and_every_span_carries_the_run_id()
    {
        await using var agent = await fixture.ConnectAgentAsync("support-bot");
        var result = await agent.RunAsync("ticketing",
            new { method = "POST", url = new Uri(fixture.SandboxUrl, "/ticketing/tickets").ToString(), body = new { title = "traced" } },
            "run-traced", TimeSpan.FromSeconds(20));
        Assert.NotNull(result.Succeeded);

        var propose = Assert.Single(fixture.Spans.All, s => s.Source.Name == AgentClient.ActivitySourceName && Tag(s, AgentBusTelemetry.ActionIdKey) == result.ActionId);
        var traceId = propose.TraceId;

        // Every hop, ending with the projections recording each step: the proposal, and the outcome,
        // whose transaction also records the start it carries and the decision and authorization the
        // policy service kept. An action allowed at once sends no ActionDecided, and the audit reads
        // no copy of the command.
        string[] audited = [nameof(ActionSucceeded)];
        var spans = await Eventually.Get(() => Task.FromResult(fixture.Spans.InTrace(traceId)),
            s => audited.All(type => s.Any(span => Audited(span, type))) && s.Any(span => Consumed(span, "ExecuteToolConsumer")),
            "the executor's and the projections' spans in the agent's trace");

        Assert.Contains(spans, s => Consumed(s, "ProposalConsumer"));
        Assert.Contains(spans, s => Consumed(s, "ProposalAuditConsumer"));
        Assert.Contains(spans, s => Consumed(s, "ExecuteToolConsumer"));
        Assert.Contains(spans, s => s.Kind == ActivityKind.Client && s.Source.Name.StartsWith("System.Net.Http", StringComparison.Ordinal));
        Assert.Contains(spans, s => Tag(s, "messaging.destination.name") == "agentbus.tool.ticketing");
        Assert.All(audited, type => Assert.Single(spans, s => Audited(s, type)));
        Assert.DoesNotContain(spans, s => Audited(s, nameof(ActionDecided)));
        Assert.DoesNotContain(spans, s => Audited(s, nameof(ExecuteTool)));

        Assert.All(spans, s => Assert.True(Tag(s, AgentBusTelemetry.RunIdKey) == "run-traced",
            $"span '{s.DisplayName}' ({s.Source.Name}) has run id '{Tag(s, AgentBusTelemetry.RunIdKey)}'"));
        // As baggage too, past the first hop: the projections learnt it from the executor's message.
        Assert.All(spans.Where(s => audited.Any(type => Audited(s, type)) || Consumed(s, "ExecuteToolConsumer")),
            s => Assert.Equal("run-traced", s.GetBaggageItem(AgentBusTelemetry.RunIdKey)));
        Assert.All(spans.Where(s => s != propose), s => Assert.NotEqual(default, s.ParentSpanId));
    }

    [Fact]
    public async Task A_proposal_from_an_agent_without_tracing_starts_a_trace_that_still_carries_the_run_id_to_the_outcome()
    {
        await using var agent = await RawAgent.ConnectAsync(fixture, "support-bot");
        var actionId = Guid.CreateVersion7().ToString();
        await agent.PublishAsync(RawAgent.Proposal("support-bot", "ticketing",
            new { method = "POST", url = new Uri(fixture.SandboxUrl, "/ticketing/tickets").ToString(), body = new { title = "raw" } }, actionId, "run-raw-traced"));

        var consume = await Eventually.Get(() => Task.FromResult(fixture.Spans.All.Where(s => Tag(s, AgentBusTelemetry.ActionIdKey) == actionId
                && Tag(s, "messaging.masstransit.consumer_type")?.EndsWith("ProposalConsumer", StringComparison.Ordinal) == true).ToList()),
            s => s.Count == 1, "the policy's span for the raw agent's proposal");
        var spans = await Eventually.Get(() => Task.FromResult(fixture.Spans.InTrace(consume[0].TraceId)),
            s => s.Any(span => Consumed(span, "ExecuteToolConsumer")) && s.Any(span => Audited(span, nameof(ActionSucceeded))),
            "the projections' spans in the same trace");

        Assert.All(spans, s => Assert.Equal("run-raw-traced", Tag(s, AgentBusTelemetry.RunIdKey)));
    }

    [Fact]
    public async Task Decisions_tool_calls_and_their_duration_are_measured()
    {
        await using var agent = await fixture.ConnectAgentAsync("support-bot");
        await using var intern = await fixture.ConnectAgentAsync("intern-bot");
        await agent.RunAsync("ticketing", new { method = "POST", url = new Uri(fixture.SandboxUrl, "/ticketing/tickets").ToString(), body = new { title = "m" } },
            "run-metrics", TimeSpan.FromSeconds(20));
        await intern.RunAsync("payments", new { method = "POST", url = new Uri(fixture.SandboxUrl, "/payments/refunds").ToString(), body = new { orderId = "O" } },
            "run-metrics", TimeSpan.FromSeconds(20));

        // Cumulative temporality: the latest export of a metric holds its totals.
        double Sum(string metric, params (string Key, string Value)[] tags)
        {
            var latest = fixture.Metrics.Snapshot().LastOrDefault(m => m.Name == metric);
            if (latest is null)
                return 0;
            return latest.MetricPoints.Where(p => tags.All(t => HasTag(p, t.Key, t.Value))).Sum(p => latest.MetricType switch
            {
                MetricType.LongSum or MetricType.LongSumNonMonotonic => p.GetSumLong(),
                MetricType.DoubleSum or MetricType.DoubleSumNonMonotonic => p.GetSumDouble(),
                MetricType.Histogram => p.GetHistogramSum(),
                _ => 0,
            });
        }

        await Eventually.True(() => Task.FromResult(Sum("agentbus.decisions", ("decision", "allowed")) >= 1
                                                    && Sum("agentbus.decisions", ("decision", "denied"), ("reason_code", "no_grant")) >= 1
                                                    && Sum("agentbus.tool.calls", ("tool", "ticketing"), ("outcome", "succeeded")) >= 1
                                                    && Sum("agentbus.tool.duration", ("tool", "ticketing")) > 0
                                                    && Sum("agentbus.spend", ("agent_id", "support-bot"), ("source", "ticketing")) > 0),
            "decisions, tool calls, duration and spend in the exported metrics");
    }

    static bool HasTag(MetricPoint point, string key, string value)
    {
        foreach (var tag in point.Tags)
            if (tag.Key == key && tag.Value?.ToString() == value)
                return true;
        return false;
    }
}
