using System.Security.Cryptography;
using System.Text.Json;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace AgentBus.Operations.Broker;

/// <summary>Where the migration reads and writes messages (AMQP), as the RabbitMQ administrator can reach it.</summary>

public sealed record MigratedQueue(string Queue, long Messages);

/// <summary>
/// Turns AgentBus's classic queues into quorum queues without losing a queued message. A queue's
/// type cannot change in place, so each queue Q goes through a holding quorum queue T:
/// T takes over Q's bindings (new messages land in T), Q's messages are moved into T, Q is
/// deleted and declared again as a quorum queue, takes its bindings back, and T's messages move
/// back into it, in their order. Every move is publish, confirm, then acknowledge, so a crash
/// repeats a message at worst (consumers are idempotent by message id) and never drops one; a
/// second run picks up where the first stopped (a leftover T is finished, not recreated).
/// Messages keep their properties, including the user_id RabbitMQ validated when the agent or
/// service published them: the moves run as a short-lived user with the impersonator tag, the
/// one way RabbitMQ lets a connection publish under another user's id, deleted afterwards.
/// </summary>
public sealed class QuorumMigration(RabbitMqManagementClient api, BrokerAddress? amqp, Action<string>? progress)
{
    public const string HoldingSuffix = ".quorum-migration";
    const string OwnPrefix = "agentbus.";
    const int Batch = 200;

    /// <summary>Classic queues to convert and holding queues left by an interrupted run.</summary>
    public async Task<IReadOnlyList<string>> PendingAsync(string vhost, CancellationToken ct)
    {
        var queues = await api.ListQueuesAsync(vhost, ct);
        var pending = new List<string>();
        foreach (var queue in queues)
        {
            var name = queue.GetProperty("name").GetString()!;
            if (!name.StartsWith(OwnPrefix, StringComparison.Ordinal))
                continue;
            if (name.EndsWith(HoldingSuffix, StringComparison.Ordinal))
                pending.Add(name[..^HoldingSuffix.Length]);
            else if (IsClassicDurable(queue))
                pending.Add(name);
        }
        return pending.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
    }

    public async Task<IReadOnlyList<MigratedQueue>> RunAsync(string vhost, CancellationToken ct)
    {
        var pending = await PendingAsync(vhost, ct);
        if (pending.Count == 0)
            return [];
        if (amqp is null)
            throw new BrokerProvisioningException(
                $"{pending.Count} queue(s) in vhost '{vhost}' are classic queues and must become quorum queues ({string.Join(", ", pending.Take(5))}" +
                $"{(pending.Count > 5 ? ", …" : "")}); moving their messages needs the broker's AMQP address: pass --rabbitmq-host and --rabbitmq-port.");

        // Before anything changes: a queue somebody reads cannot be swapped under them (the old
        // service would declare it again as a classic queue, or lose its consumer mid-message).
        var busy = new List<string>();
        foreach (var queue in pending)
            if (await api.GetQueueAsync(vhost, queue, ct) is { } found && Consumers(found) > 0)
                busy.Add($"{queue} ({Consumers(found)} consumer(s))");
        if (busy.Count > 0)
            throw new BrokerProvisioningException(
                $"Cannot convert queues that are being read: {string.Join(", ", busy)}. Stop the services and agents that read them " +
                "(ops/down.sh stops the pipeline), then run `agentbus broker apply` again; nothing has been changed.");

        var user = $"agentbus-queue-migration-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}";
        var password = Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));
        await api.PutUserAsync(user, password, "impersonator", ct);
        try
        {
            await api.PutPermissionsAsync(vhost, user, new Permissions(Permissions.Nothing, ".*", ".*"), ct);
            await using var mover = await Mover.ConnectAsync(amqp, vhost, user, password, ct);
            var migrated = new List<MigratedQueue>();
            foreach (var queue in pending)
                migrated.Add(await MigrateAsync(vhost, queue, mover, ct));
            return migrated;
        }
        finally
        {
            await api.DeleteUserAsync(user, CancellationToken.None);
        }
    }

    async Task<MigratedQueue> MigrateAsync(string vhost, string queue, Mover mover, CancellationToken ct)
    {
        var holding = queue + HoldingSuffix;
        long moved = 0;
        if (await api.GetQueueAsync(vhost, queue, ct) is { } existing && IsClassicDurable(existing))
        {
            await api.PutQueueAsync(vhost, holding, BrokerQueues.QuorumArguments, ct);
            await TakeOverBindingsAsync(vhost, from: queue, to: holding, ct);
            moved = await mover.MoveAsync(queue, holding, ct);
            await api.DeleteEmptyUnusedQueueAsync(vhost, queue, ct);
        }

        if (await api.GetQueueAsync(vhost, holding, ct) is not null)
        {
            await api.PutQueueAsync(vhost, queue, BrokerQueues.QuorumArguments, ct);
            await TakeOverBindingsAsync(vhost, from: holding, to: queue, ct);
            var back = await mover.MoveAsync(holding, queue, ct);
            moved = Math.Max(moved, back);
            // Quorum queues take no if-empty/if-unused delete; the queue's own count is exact.
            await mover.EnsureEmptyAsync(holding, ct);
            if (await api.GetQueueAsync(vhost, holding, ct) is { } left && Consumers(left) > 0)
                throw new BrokerProvisioningException($"{holding} has {Consumers(left)} consumer(s); stop whatever reads it and run `agentbus broker apply` again.");
            await api.DeleteQueueAsync(vhost, holding, ct);
        }

        progress?.Invoke($"{queue}: now a quorum queue ({moved} message(s) moved)");
        return new MigratedQueue(queue, moved);
    }

    /// <summary>
    /// The new queue is bound first and the old one unbound after, so a message published in
    /// between reaches both (and is processed once, by id) rather than neither.
    /// </summary>
    async Task TakeOverBindingsAsync(string vhost, string from, string to, CancellationToken ct)
    {
        var bindings = await api.GetQueueBindingsAsync(vhost, from, ct);
        foreach (var binding in bindings)
            await api.BindQueueAsync(vhost, binding, to, ct);
        foreach (var binding in bindings)
            await api.UnbindQueueAsync(vhost, binding, from, ct);
    }

    static bool IsClassicDurable(JsonElement queue) =>
        queue.TryGetProperty("type", out var type) && type.GetString() == "classic"
        && queue.TryGetProperty("durable", out var durable) && durable.GetBoolean()
        && !(queue.TryGetProperty("auto_delete", out var autoDelete) && autoDelete.GetBoolean())
        && !(queue.TryGetProperty("exclusive", out var exclusive) && exclusive.ValueKind == JsonValueKind.True);

    static int Consumers(JsonElement queue) =>
        queue.TryGetProperty("consumers", out var consumers) && consumers.ValueKind == JsonValueKind.Number ? consumers.GetInt32() : 0;

    sealed class Mover(IConnection connection, IChannel reader, IChannel publisher) : IAsyncDisposable
    {
        public static async Task<Mover> ConnectAsync(BrokerAddress endpoint, string vhost, string user, string password, CancellationToken ct)
        {
            var factory = new ConnectionFactory
            {
                VirtualHost = vhost,
                UserName = user,
                Password = password,
                ClientProvidedName = "agentbus broker apply (quorum migration)",
                AutomaticRecoveryEnabled = false,
                RequestedConnectionTimeout = TimeSpan.FromSeconds(10),
            };
            IConnection connection;
            try
            {
                connection = await factory.CreateConnectionAsync(endpoint.AmqpEndpoints, ct);
            }
            catch (BrokerUnreachableException ex)
            {
                throw new BrokerProvisioningException($"Cannot connect to RabbitMQ at {endpoint} to move queued messages: {ex.GetBaseException().Message}");
            }
            var reader = await connection.CreateChannelAsync(cancellationToken: ct);
            var publisher = await connection.CreateChannelAsync(
                new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), ct);
            return new Mover(connection, reader, publisher);
        }

        /// <summary>Moves everything in <paramref name="from"/> to <paramref name="to"/>; the originals go only once their copies are confirmed.</summary>
        public async Task<long> MoveAsync(string from, string to, CancellationToken ct)
        {
            long moved = 0;
            while (true)
            {
                var copies = new List<Task>(Batch);
                ulong lastTag = 0;
                for (var i = 0; i < Batch; i++)
                {
                    var got = await reader.BasicGetAsync(from, autoAck: false, ct);
                    if (got is null)
                        break;
                    lastTag = got.DeliveryTag;
                    copies.Add(publisher.BasicPublishAsync("", to, mandatory: true, Copy(got.BasicProperties), got.Body.ToArray(), ct).AsTask());
                }
                if (copies.Count == 0)
                    return moved;
                try
                {
                    await Task.WhenAll(copies);
                }
                catch (PublishException ex)
                {
                    throw new BrokerProvisioningException(
                        $"RabbitMQ did not take a message moved from {from} to {to} ({(ex.IsReturn ? "unroutable" : "not confirmed")}); " +
                        $"{from} still holds it. Run `agentbus broker apply` again.");
                }
                await reader.BasicAckAsync(lastTag, multiple: true, ct);
                moved += copies.Count;
            }
        }

        /// <summary>The queue's own count, exact where the management API's lags (its consumer count is not reliable for quorum queues here).</summary>
        public async Task EnsureEmptyAsync(string queue, CancellationToken ct)
        {
            var state = await reader.QueueDeclarePassiveAsync(queue, ct);
            if (state.MessageCount > 0)
                throw new BrokerProvisioningException(
                    $"{queue} still holds {state.MessageCount} message(s) after the move; stop whatever writes to it and run `agentbus broker apply` again.");
        }

        /// <summary>The original's properties, user_id included; the source queue's own delivery bookkeeping stays behind.</summary>
        static BasicProperties Copy(IReadOnlyBasicProperties original)
        {
            var copy = new BasicProperties(original);
            if (original.Headers is { } headers && headers.ContainsKey("x-delivery-count"))
                copy.Headers = headers.Where(h => h.Key != "x-delivery-count").ToDictionary(h => h.Key, h => h.Value);
            return copy;
        }

        public async ValueTask DisposeAsync()
        {
            await publisher.DisposeAsync();
            await reader.DisposeAsync();
            await connection.DisposeAsync();
        }
    }
}
