using System.Diagnostics;
using System.Text;
using AgentBus.ServiceDefaults.Database;
using AgentBus.Testbed;
using Npgsql;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace AgentBus.LoadHarness;

/// <param name="Hop">Publish → delivered to a consumer in another connection.</param>
/// <param name="Confirm">Publish → the broker's confirm.</param>
/// <param name="Commit">One autocommitted INSERT on a pooled connection, the client's view.</param>
public sealed record FloorResult(double Rate, LatencySummary Hop, LatencySummary Confirm, LatencySummary Commit)
{
    /// <summary>Broker hops and commits an allowed action waits on one after the other: admission, claim, outcome.</summary>
    public const int HopsOnPath = 3, CommitsOnPath = 3;

    /// <summary>The allowed path with nothing of AgentBus in it: its hops and commits at their medians.</summary>
    public double PathP50 => HopsOnPath * Hop.P50 + CommitsOnPath * Commit.P50;
}

/// <summary>
/// What the servers alone cost at the offered rate of a latency phase, in the same run and with the
/// pipeline idle beside it: one RabbitMQ hop (durable quorum queue, persistent message, publisher
/// confirms, raw client on both ends, as the agents and services use it) and one PostgreSQL commit
/// (fsync as configured, a pooled connection tuned like the services'). An action's latency cannot
/// go below its hops and commits, so this is the floor any figure of the pipeline is read against.
/// </summary>
public static class PathFloor
{
    const string Queue = "agentbus.bench.floor";
    const int BodyBytes = 400;

    public static async Task<FloorResult> MeasureAsync(Scratch scratch, double rate, int samples, CancellationToken ct)
    {
        var factory = new ConnectionFactory
        {
            HostName = scratch.Servers.RabbitHost,
            Port = scratch.Servers.RabbitPort,
            VirtualHost = scratch.VirtualHost,
            UserName = scratch.Servers.AdminUser,
            Password = scratch.Servers.AdminPassword,
            ClientProvidedName = "testbed:path-floor",
        };
        await using var publishing = await factory.CreateConnectionAsync(ct);
        await using var consuming = await factory.CreateConnectionAsync(ct);
        await using var publisher = await publishing.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), ct);
        await using var receiver = await consuming.CreateChannelAsync(cancellationToken: ct);
        await publisher.QueueDeclareAsync(Queue, durable: true, exclusive: false, autoDelete: false,
            new Dictionary<string, object?> { ["x-queue-type"] = "quorum" }, cancellationToken: ct);

        await using var database = NpgsqlDataSource.Create(DatabaseExtensions.WithServiceTuning(scratch.ConnectionString));
        await using (var connection = await database.OpenConnectionAsync(ct))
        await using (var create = new NpgsqlCommand(
            "CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, at timestamptz NOT NULL, note text NOT NULL)", connection))
            await create.ExecuteNonQueryAsync(ct);

        var delivered = new long[samples];
        var consumer = new AsyncEventingBasicConsumer(receiver);
        consumer.ReceivedAsync += async (_, delivery) =>
        {
            var at = Stopwatch.GetTimestamp();
            if (int.TryParse(Encoding.ASCII.GetString(delivery.Body.Span[..10]), out var index) && index >= 0 && index < samples)
                Volatile.Write(ref delivered[index], at);
            await receiver.BasicAckAsync(delivery.DeliveryTag, multiple: false);
        };
        await receiver.BasicQosAsync(0, 64, false, ct);
        await receiver.BasicConsumeAsync(Queue, autoAck: false, consumer, ct);

        try
        {
            var sent = new long[samples];
            var confirms = new double[samples];
            var commits = new double[samples];
            var padding = new string('x', BodyBytes - 10);
            var properties = new BasicProperties { DeliveryMode = DeliveryModes.Persistent, ContentType = "application/json" };
            var interval = TimeSpan.FromSeconds(1 / rate);
            var started = Stopwatch.GetTimestamp();
            for (var i = 0; i < samples; i++)
            {
                var due = started + (long)(i * interval.TotalSeconds * Stopwatch.Frequency);
                if (Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due) is { Ticks: > 0 } wait)
                    await Task.Delay(wait, ct);
                var index = i;
                // Both at once, as an action's hops and commits are neither waiting on the other.
                await Task.WhenAll(PublishAsync(), CommitAsync());

                async Task PublishAsync()
                {
                    var body = Encoding.ASCII.GetBytes($"{index:D10}{padding}");
                    sent[index] = Stopwatch.GetTimestamp();
                    await publisher.BasicPublishAsync("", Queue, mandatory: true, properties, body, ct);
                    confirms[index] = Stopwatch.GetElapsedTime(sent[index]).TotalMilliseconds;
                }

                async Task CommitAsync()
                {
                    var from = Stopwatch.GetTimestamp();
                    await using var connection = await database.OpenConnectionAsync(ct);
                    await using var insert = new NpgsqlCommand("INSERT INTO bench_floor (at, note) VALUES (now(), 'floor')", connection);
                    await insert.ExecuteNonQueryAsync(ct);
                    commits[index] = Stopwatch.GetElapsedTime(from).TotalMilliseconds;
                }
            }

            var deadline = Stopwatch.GetTimestamp() + 10 * Stopwatch.Frequency;
            while (Enumerable.Range(0, samples).Any(i => Volatile.Read(ref delivered[i]) == 0) && Stopwatch.GetTimestamp() < deadline)
                await Task.Delay(20, ct);
            var hops = Enumerable.Range(0, samples).Where(i => delivered[i] != 0).Select(i => LatencySummary.Ms(sent[i], delivered[i])).ToList();
            if (hops.Count < samples)
                throw new InvalidOperationException($"Only {hops.Count} of {samples} floor messages were delivered within 10 s.");
            return new FloorResult(rate, LatencySummary.Of(hops), LatencySummary.Of(confirms), LatencySummary.Of(commits));
        }
        finally
        {
            await publisher.QueueDeleteAsync(Queue, cancellationToken: CancellationToken.None);
        }
    }
}
