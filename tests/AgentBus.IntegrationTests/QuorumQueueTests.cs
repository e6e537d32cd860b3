using System.Text;
using AgentBus.Contracts;
using AgentBus.IntegrationTests.Infrastructure;
using AgentBus.Operations.Broker;
using RabbitMQ.Client;

namespace AgentBus.IntegrationTests;

/// <summary>
/// Quorum queues on the real broker: `broker apply` turns an older installation's classic queues
/// into quorum queues with every message still there (and still carrying the user_id RabbitMQ
/// validated), and a message handed out too often without an acknowledgement ends in its _error queue.
/// Each test works in a vhost of its own, so the pipeline's vhost is never converted under it.
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed class QuorumQueueTests(PipelineFixture fixture) : IAsyncLifetime
{
    const string Agent = "support-bot";
    readonly string _vhost = $"agentbus-quorum-{Guid.NewGuid():N}"[..32];

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => fixture.Management.DeleteVirtualHostAsync(_vhost, CancellationToken.None);

    BrokerProvisioner Provisioner(int deliveryLimit = BrokerQueues.DefaultDeliveryLimit) =>
        new(fixture.Management, fixture.Secrets, fixture.Servers.AdminUser,
            new BrokerApplyOptions(deliveryLimit, new BrokerAddress(fixture.Servers.RabbitHost, fixture.Servers.RabbitPort)));

    Task<IConnection> ConnectAsync(string user, string password) => new ConnectionFactory
    {
        HostName = fixture.Servers.RabbitHost,
        Port = fixture.Servers.RabbitPort,
        VirtualHost = _vhost,
        UserName = user,
        Password = password,
    }.CreateConnectionAsync();

    async Task<string> QueueTypeAsync(string queue) =>
        (await fixture.Management.GetQueueAsync(_vhost, queue, CancellationToken.None))!.Value.GetProperty("type").GetString()!;

    [Fact]
    public async Task Apply_turns_classic_queues_into_quorum_queues_keeping_every_message_and_its_sender()
    {
        // An installation from before quorum queues: the policy's queue is classic, 50 proposals wait in it.
        await Provisioner().ApplyAsync(_vhost, [Agent], ["ticketing"], CancellationToken.None);
        var queue = WireNames.PolicyProposalsQueue;
        await fixture.Management.DeleteQueueAsync(_vhost, queue, CancellationToken.None);
        await fixture.Management.PutQueueAsync(_vhost, queue, new Dictionary<string, object>(), CancellationToken.None);
        await fixture.Management.BindQueueAsync(_vhost, queue, queue, "", CancellationToken.None);
        await fixture.Management.BindQueueAsync(_vhost, WireNames.ReplayExchange, queue, queue, CancellationToken.None);
        Assert.Equal("classic", await QueueTypeAsync(queue));
        await using (var agent = await ConnectAsync(Agent, fixture.Secrets.GetOrCreate("rabbitmq", Agent)))
        {
            await using var channel = await agent.CreateChannelAsync(new CreateChannelOptions(true, true));
            for (var i = 0; i < 50; i++)
                await channel.BasicPublishAsync(WireNames.ProposalsExchange, "", true,
                    new BasicProperties { MessageId = $"m-{i:D3}", UserId = Agent, DeliveryMode = DeliveryModes.Persistent }, Encoding.UTF8.GetBytes($"{{\"n\":{i}}}"));
        }

        // Without the broker's AMQP address the messages cannot move: refused, naming what to pass.
        var noAddress = await Assert.ThrowsAsync<BrokerProvisioningException>(() =>
            new BrokerProvisioner(fixture.Management, fixture.Secrets, fixture.Servers.AdminUser).ApplyAsync(_vhost, [Agent], ["ticketing"], CancellationToken.None));
        Assert.Contains("--rabbitmq-host", noAddress.Message);

        // A reader on the queue: apply refuses before it changes anything.
        await using (var reader = await ConnectAsync(fixture.Servers.AdminUser, fixture.Servers.AdminPassword))
        {
            await using var channel = await reader.CreateChannelAsync();
            await channel.BasicQosAsync(0, 1, false);
            await channel.BasicConsumeAsync(queue, false, new AsyncEventingBasicConsumerStub(channel));
            await Task.Delay(500);
            var busy = await Assert.ThrowsAsync<BrokerProvisioningException>(() => Provisioner().ApplyAsync(_vhost, [Agent], ["ticketing"], CancellationToken.None));
            Assert.Contains(queue, busy.Message);
            Assert.Equal("classic", await QueueTypeAsync(queue));
        }
        // The management API counts consumers from statistics it refreshes every few seconds; on a busy
        // machine it still reports the closed reader half a second later.
        await Eventually.True(async () =>
            (await fixture.Management.GetQueueAsync(_vhost, queue, CancellationToken.None))!.Value.TryGetProperty("consumers", out var consumers)
            && consumers.GetInt32() == 0, "the management API to see the reader gone");

        var applied = await Provisioner().ApplyAsync(_vhost, [Agent], ["ticketing"], CancellationToken.None);

        Assert.Contains(applied.Migrated, m => m.Queue == WireNames.PolicyProposalsQueue && m.Messages == 50);
        Assert.Equal("quorum", await QueueTypeAsync(WireNames.PolicyProposalsQueue));
        var queues = await fixture.Management.ListQueuesAsync(_vhost, CancellationToken.None);
        Assert.DoesNotContain(queues, q => q.GetProperty("name").GetString()!.EndsWith(QuorumMigration.HoldingSuffix));
        Assert.All(queues, q => Assert.Equal("quorum", q.GetProperty("type").GetString()));
        Assert.Empty(await Provisioner().ApplyAsync(_vhost, [Agent], ["ticketing"], CancellationToken.None).ContinueWith(t => t.Result.Migrated));

        await using var admin = await ConnectAsync(fixture.Servers.AdminUser, fixture.Servers.AdminPassword);
        await using var read = await admin.CreateChannelAsync();
        // All there once, each with its sender; in order, except the one the refused reader held and gave back.
        var ids = new List<string>();
        while (await read.BasicGetAsync(WireNames.PolicyProposalsQueue, autoAck: true) is { } got)
        {
            Assert.Equal(Agent, got.BasicProperties.UserId);
            ids.Add(got.BasicProperties.MessageId!);
        }
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"m-{i:D3}"), ids.Order(StringComparer.Ordinal));
        Assert.Equal(Enumerable.Range(1, 49).Select(i => $"m-{i:D3}"), ids.Where(id => id != "m-000"));

        // The bindings came along: a new proposal reaches the converted queue.
        await using (var agent = await ConnectAsync(Agent, fixture.Secrets.GetOrCreate("rabbitmq", Agent)))
        {
            await using var channel = await agent.CreateChannelAsync(new CreateChannelOptions(true, true));
            await channel.BasicPublishAsync(WireNames.ProposalsExchange, "", true, new BasicProperties { MessageId = "after", UserId = Agent }, "{}"u8.ToArray());
        }
        Assert.Equal("after", (await read.BasicGetAsync(WireNames.PolicyProposalsQueue, autoAck: true))?.BasicProperties.MessageId);
    }

    [Fact]
    public async Task A_message_handed_out_more_often_than_the_delivery_limit_lands_in_its_error_queue_saying_why()
    {
        await Provisioner(deliveryLimit: 2).ApplyAsync(_vhost, [Agent], ["ticketing"], CancellationToken.None);
        var queue = WireNames.ToolQueue("ticketing");
        await using var admin = await ConnectAsync(fixture.Servers.AdminUser, fixture.Servers.AdminPassword);
        await using (var publisher = await admin.CreateChannelAsync(new CreateChannelOptions(true, true)))
            await publisher.BasicPublishAsync("", queue, true, new BasicProperties { MessageId = "poison", DeliveryMode = DeliveryModes.Persistent }, "{}"u8.ToArray());

        // A consumer that dies holding it, three times: the third return is past the limit of 2.
        for (var attempt = 0; attempt < 3; attempt++)
        {
            await using var crashing = await admin.CreateChannelAsync();
            Assert.NotNull(await crashing.BasicGetAsync(queue, autoAck: false));
        }

        await using var read = await admin.CreateChannelAsync();
        var dead = await Eventually.Get(() => read.BasicGetAsync(queue + "_error", autoAck: false), got => got is not null, "the poison message in the error queue");
        Assert.Equal("poison", dead!.BasicProperties.MessageId);
        Assert.Equal("delivery_limit", Encoding.UTF8.GetString((byte[])dead.BasicProperties.Headers!["x-first-death-reason"]!));
        Assert.Null(await read.BasicGetAsync(queue, autoAck: false));
    }

    sealed class AsyncEventingBasicConsumerStub(IChannel channel) : AsyncDefaultBasicConsumer(channel);
}
