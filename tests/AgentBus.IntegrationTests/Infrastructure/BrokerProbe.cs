using System.Text;
using AgentBus.Contracts;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace AgentBus.IntegrationTests.Infrastructure;

/// <summary>
/// Tries one AMQP operation as one broker user on a fresh channel and reports whether RabbitMQ
/// allowed it, or refused it (403 ACCESS_REFUSED, which closes the channel). Every call has a
/// timeout, so a refusal can never look like a hang.
/// </summary>
public sealed class BrokerProbe(PipelineFixture fixture)
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    public sealed record Result(bool Allowed, ushort ReplyCode, string Detail)
    {
        public override string ToString() => Allowed ? "allowed" : $"refused {ReplyCode}: {Detail}";
    }

    public Task<Result> PublishAsync(string user, string exchange, string routingKey = "", string body = "{}", string? userId = null) =>
        RunAsync(user, confirms: true, async (channel, ct) =>
        {
            var properties = new BasicProperties
            {
                ContentType = WireNames.ContentType,
                DeliveryMode = DeliveryModes.Persistent,
                MessageId = Guid.NewGuid().ToString(),
            };
            if (userId is not null)
                properties.UserId = userId;
            await channel.BasicPublishAsync(exchange, routingKey, mandatory: false, properties, Encoding.UTF8.GetBytes(body), ct);
        });

    public Task<Result> ReadAsync(string user, string queue) =>
        RunAsync(user, confirms: false, async (channel, ct) =>
        {
            var got = await channel.BasicGetAsync(queue, autoAck: false, ct);
            if (got is not null)
                await channel.BasicNackAsync(got.DeliveryTag, false, requeue: true, ct);
        });

    public Task<Result> DeclareQueueAsync(string user, string queue) =>
        RunAsync(user, confirms: false, (channel, ct) => channel.QueueDeclareAsync(queue, durable: false, exclusive: false, autoDelete: true, cancellationToken: ct));

    public Task<Result> DeclareExchangeAsync(string user, string exchange) =>
        RunAsync(user, confirms: false, (channel, ct) => channel.ExchangeDeclareAsync(exchange, ExchangeType.Fanout, durable: false, autoDelete: true, cancellationToken: ct));

    public Task<Result> BindQueueAsync(string user, string queue, string exchange, string routingKey) =>
        RunAsync(user, confirms: false, (channel, ct) => channel.QueueBindAsync(queue, exchange, routingKey, cancellationToken: ct));

    public Task<Result> DeleteQueueAsync(string user, string queue) =>
        RunAsync(user, confirms: false, async (channel, ct) => await channel.QueueDeleteAsync(queue, ifUnused: false, ifEmpty: false, cancellationToken: ct));

    async Task<Result> RunAsync(string user, bool confirms, Func<IChannel, CancellationToken, Task> operation)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await using var connection = await fixture.ConnectionFactoryFor(user).CreateConnectionAsync(timeout.Token);
        await using var channel = await connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: confirms, publisherConfirmationTrackingEnabled: confirms), timeout.Token);
        try
        {
            await operation(channel, timeout.Token);
            // A refused publish is reported asynchronously (the broker closes the channel); a round
            // trip on the same channel makes sure it has been, before calling the publish allowed.
            if (!confirms)
                await channel.BasicQosAsync(0, 1, false, timeout.Token);
            return new Result(true, 200, "");
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            throw new TimeoutException($"{user}: the broker neither allowed nor refused the operation within {Timeout.TotalSeconds:0} s.");
        }
        catch (Exception ex) when (ex is OperationInterruptedException or AlreadyClosedException or PublishException)
        {
            var reason = channel.CloseReason ?? (ex as OperationInterruptedException)?.ShutdownReason;
            if (reason is null)
                throw;
            return new Result(false, reason.ReplyCode, reason.ReplyText);
        }
    }
}

/// <summary>A delivery exactly as the broker holds it, to be put back later as a replay or a redelivery would.</summary>
public sealed record CapturedMessage(ReadOnlyMemory<byte> Body, IReadOnlyBasicProperties Properties)
{
    /// <summary>Copies the first message of a queue with the administrator's login and leaves it there.</summary>
    public static async Task<CapturedMessage> PeekAsync(PipelineFixture fixture, string queue)
    {
        await using var connection = await AdministratorFactory(fixture).CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var got = await channel.BasicGetAsync(queue, autoAck: false) ?? throw new InvalidOperationException($"Queue {queue} is empty.");
        var captured = new CapturedMessage(got.Body.ToArray(), new BasicProperties(got.BasicProperties));
        await channel.BasicNackAsync(got.DeliveryTag, multiple: false, requeue: true);
        return captured;
    }

    /// <summary>Publishes the same bytes and properties (message id included) again, as <paramref name="user"/>.</summary>
    public async Task RepublishAsync(PipelineFixture fixture, string user, string exchange, string routingKey)
    {
        await using var connection = await fixture.ConnectionFactoryFor(user).CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await channel.BasicPublishAsync(exchange, routingKey, mandatory: true, new BasicProperties(Properties), Body, timeout.Token);
    }

    static ConnectionFactory AdministratorFactory(PipelineFixture fixture) => new()
    {
        HostName = fixture.Servers.RabbitHost,
        Port = fixture.Servers.RabbitPort,
        VirtualHost = fixture.VirtualHost,
        UserName = fixture.Servers.AdminUser,
        Password = fixture.Servers.AdminPassword,
        AutomaticRecoveryEnabled = false,
    };
}
