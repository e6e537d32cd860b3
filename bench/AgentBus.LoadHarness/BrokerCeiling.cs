using System.Diagnostics;
using AgentBus.Testbed;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AgentBus.LoadHarness;

/// <summary>A message of a given size, nothing else: what the broker and MassTransit cost without AgentBus.</summary>
public sealed record CeilingProbe(int Sequence, string Padding);

public sealed record CeilingResult(int Messages, double Seconds, double MessagesPerSecond, IReadOnlyList<int> Sizes);

/// <summary>
/// The broker's own ceiling on this machine, in the same run: plain MassTransit on the same RabbitMQ,
/// publisher confirms, a durable queue, persistent messages, raw JSON like the services, bodies of the
/// sizes the pipeline's messages have, 100 publishes in flight, one consumer endpoint (32 at once,
/// prefetch 128) in the same process. Measured from the first publish to the last consume.
/// </summary>
public static class BrokerCeiling
{
    public static async Task<CeilingResult> MeasureAsync(Scratch scratch, int messages, IReadOnlyList<int> sizes, CancellationToken ct)
    {
        var consumed = new Counter(messages);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, ApplicationName = "agentbus-load-ceiling" });
        builder.Logging.AddConsole().SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton(consumed);
        builder.Services.AddOptions<MassTransitHostOptions>().Configure(host => host.WaitUntilStarted = true);
        builder.Services.AddMassTransit(bus =>
        {
            bus.DisableUsageTelemetry();
            bus.AddConsumer<CeilingConsumer>();
            bus.UsingRabbitMq((context, cfg) =>
            {
                cfg.Host(scratch.Servers.RabbitHost, (ushort)scratch.Servers.RabbitPort, scratch.VirtualHost, host =>
                {
                    host.Username(scratch.Servers.AdminUser);
                    host.Password(scratch.Servers.AdminPassword);
                    host.PublisherConfirmation = true;
                });
                cfg.ClearSerialization();
                cfg.UseRawJsonSerializer(RawSerializerOptions.AddTransportHeaders, isDefault: true);
                cfg.ReceiveEndpoint("agentbus.bench.ceiling", endpoint =>
                {
                    endpoint.PrefetchCount = 128;
                    endpoint.ConcurrentMessageLimit = 32;
                    endpoint.ConfigureConsumer<CeilingConsumer>(context);
                });
            });
        });
        using var host = builder.Build();
        await host.StartAsync(ct);
        try
        {
            var bus = host.Services.GetRequiredService<IBus>();
            var paddings = sizes.Select(size => new string('x', Math.Max(0, size - 40))).ToArray();
            // Warm the path before the clock starts.
            for (var i = 0; i < 200; i++)
                await bus.Publish(new CeilingProbe(-1, paddings[i % paddings.Length]), send => send.Mandatory = true, ct);
            await consumed.WarmedUpAsync(200, ct).WaitAsync(TimeSpan.FromMinutes(1), ct);

            var started = Stopwatch.GetTimestamp();
            consumed.Start();
            using var inFlight = new SemaphoreSlim(100, 100);
            var publishes = new List<Task>(messages);
            for (var i = 0; i < messages; i++)
            {
                await inFlight.WaitAsync(ct);
                var sequence = i;
                publishes.Add(Task.Run(async () =>
                {
                    try
                    {
                        await bus.Publish(new CeilingProbe(sequence, paddings[sequence % paddings.Length]), send => send.Mandatory = true, ct);
                    }
                    finally
                    {
                        inFlight.Release();
                    }
                }, ct));
            }
            await Task.WhenAll(publishes);
            await consumed.Done.WaitAsync(TimeSpan.FromMinutes(5), ct);
            var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            return new CeilingResult(messages, seconds, messages / seconds, sizes);
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    public sealed class Counter(int target)
    {
        int _count;
        int _warm;
        volatile bool _started;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Start() => _started = true;

        public void Add(int sequence)
        {
            if (sequence < 0 || !_started)
            {
                Interlocked.Increment(ref _warm);
                return;
            }
            if (Interlocked.Increment(ref _count) == target)
                Done.TrySetResult();
        }

        public async Task WarmedUpAsync(int count, CancellationToken ct)
        {
            while (Volatile.Read(ref _warm) < count)
                await Task.Delay(20, ct);
        }

        public Task Completion => Done.Task;
    }

    public sealed class CeilingConsumer(Counter counter) : IConsumer<CeilingProbe>
    {
        public Task Consume(ConsumeContext<CeilingProbe> context)
        {
            counter.Add(context.Message.Sequence);
            return Task.CompletedTask;
        }
    }
}

static class TaskExtensions
{
    public static Task WaitAsync(this TaskCompletionSource source, TimeSpan timeout, CancellationToken ct) => source.Task.WaitAsync(timeout, ct);
}
