using System.Text.Json;
using AgentBus.Operations.Broker;
using AgentBus.Contracts;
using AgentBus.IntegrationTests.Infrastructure;
using MassTransit;

namespace AgentBus.IntegrationTests;

/// <summary>
/// Each role's broker user, tried against the real broker, inside and outside its rights. The
/// allowed cases are the control: they prove the probe can see a success, so a refusal means the
/// permission, not a broken probe.
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed class BrokerPermissionTests(PipelineFixture fixture) : IAsyncLifetime
{
    const string Agent = "support-bot";
    const string OtherAgent = "intern-bot";
    static readonly string TicketingExecutor = BrokerTopology.ExecutorUser("ticketing");
    static readonly string TicketingQueue = WireNames.ToolQueue("ticketing");
    static readonly string PaymentsQueue = WireNames.ToolQueue("payments");

    readonly BrokerProbe _probe = new(fixture);

    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    static void Refused(BrokerProbe.Result result, string what)
    {
        Assert.False(result.Allowed, $"{what} should be refused but was allowed");
        Assert.Equal(403, result.ReplyCode);
    }

    static void Allowed(BrokerProbe.Result result, string what) => Assert.True(result.Allowed, $"{what} should be allowed: {result}");

    static string Succeeded(string agent) => JsonSerializer.Serialize(new ActionSucceeded(Guid.CreateVersion7().ToString(), "run-permissions", agent,
        "ticketing", JsonSerializer.SerializeToElement(new { }), null, 0, 1, 1, DateTimeOffset.UtcNow), AgentBus.Client.AgentClient.Json);

    [Fact]
    public async Task An_agent_can_only_publish_proposals_and_read_its_own_queue()
    {
        Allowed(await _probe.PublishAsync(Agent, WireNames.ProposalsExchange, userId: Agent), "agent publishing a proposal");
        Allowed(await _probe.ReadAsync(Agent, WireNames.AgentReplyQueue(Agent)), "agent reading its own reply queue");

        Refused(await _probe.PublishAsync(Agent, WireNames.ExecuteToolExchange, "payments"), "agent publishing ExecuteTool");
        Refused(await _probe.PublishAsync(Agent, TicketingQueue), "agent publishing to a tool queue's exchange");
        Refused(await _probe.PublishAsync(Agent, "", PaymentsQueue), "agent publishing to a tool queue through the default exchange");
        Refused(await _probe.PublishAsync(Agent, WireNames.ReplayExchange, PaymentsQueue), "agent publishing through the replay exchange");
        Refused(await _probe.PublishAsync(Agent, WireNames.ActionSucceededExchange, Agent, Succeeded(Agent)), "agent forging an outcome");
        Refused(await _probe.PublishAsync(Agent, WireNames.ActionDecidedExchange, Agent), "agent forging a decision");
        Refused(await _probe.PublishAsync(Agent, WireNames.RepliesExchange, OtherAgent), "agent writing into another agent's replies");
        Refused(await _probe.PublishAsync(Agent, "", WireNames.AgentReplyQueue(OtherAgent)), "agent writing into another agent's queue directly");
        Refused(await _probe.PublishAsync(Agent, WireNames.OperatorActionsExchange, "dlq.replay"), "agent forging an operator action");

        Refused(await _probe.ReadAsync(Agent, WireNames.AgentReplyQueue(OtherAgent)), "agent reading another agent's queue");
        Refused(await _probe.ReadAsync(Agent, WireNames.PolicyProposalsQueue), "agent reading the policy's proposals");
        Refused(await _probe.ReadAsync(Agent, PaymentsQueue), "agent reading a tool queue");

        Refused(await _probe.DeclareQueueAsync(Agent, WireNames.AgentReplyQueue(Agent) + ".tap"), "agent declaring a queue");
        Refused(await _probe.DeclareExchangeAsync(Agent, "agentbus.agent-exchange"), "agent declaring an exchange");
        Refused(await _probe.BindQueueAsync(Agent, WireNames.AgentReplyQueue(Agent), WireNames.RepliesExchange, "#"), "agent binding its queue to every reply");
        Refused(await _probe.BindQueueAsync(Agent, WireNames.AgentReplyQueue(Agent), WireNames.ExecuteToolExchange, "#"), "agent binding its queue to the commands");
        Refused(await _probe.DeleteQueueAsync(Agent, WireNames.AgentReplyQueue(OtherAgent)), "agent deleting another agent's queue");
    }

    [Fact]
    public async Task An_executor_reads_only_its_own_tool_queue_and_publishes_only_outcomes()
    {
        Allowed(await _probe.ReadAsync(TicketingExecutor, TicketingQueue), "executor reading its own queue");
        Allowed(await _probe.PublishAsync(TicketingExecutor, WireNames.ActionSucceededExchange, "support-bot", Succeeded("support-bot")), "executor publishing an outcome");

        Refused(await _probe.ReadAsync(TicketingExecutor, PaymentsQueue), "executor reading another tool's queue");
        Refused(await _probe.ReadAsync(TicketingExecutor, WireNames.PolicyProposalsQueue), "executor reading proposals");
        Refused(await _probe.PublishAsync(TicketingExecutor, WireNames.ExecuteToolExchange, "ticketing"), "executor publishing ExecuteTool");
        Refused(await _probe.PublishAsync(TicketingExecutor, TicketingQueue), "executor publishing to its own queue's exchange");
        Refused(await _probe.PublishAsync(TicketingExecutor, "", TicketingQueue), "executor publishing to its own queue through the default exchange");
        Refused(await _probe.PublishAsync(TicketingExecutor, WireNames.ReplayExchange, TicketingQueue), "executor publishing through the replay exchange");
        Refused(await _probe.PublishAsync(TicketingExecutor, WireNames.ActionDecidedExchange, "support-bot"), "executor forging a decision");
        Refused(await _probe.PublishAsync(TicketingExecutor, WireNames.ProposalsExchange), "executor publishing a proposal");
        Refused(await _probe.BindQueueAsync(TicketingExecutor, TicketingQueue, WireNames.ExecuteToolExchange, "payments"), "executor binding its queue to another tool's commands");
        Refused(await _probe.DeclareQueueAsync(TicketingExecutor, "agentbus.tool.payments.tap"), "executor declaring a queue outside its name");
    }

    [Fact]
    public async Task Only_the_policy_service_writes_commands_and_it_reads_no_executor_or_agent_queue()
    {
        Allowed(await _probe.PublishAsync(BrokerTopology.PolicyUser, WireNames.ExecuteToolExchange, "no-such-tool"), "policy publishing ExecuteTool");
        Allowed(await _probe.ReadAsync(BrokerTopology.PolicyUser, WireNames.PolicyProposalsQueue), "policy reading proposals");

        Refused(await _probe.ReadAsync(BrokerTopology.PolicyUser, TicketingQueue), "policy reading a tool queue");
        Refused(await _probe.ReadAsync(BrokerTopology.PolicyUser, WireNames.AgentReplyQueue(Agent)), "policy reading an agent's queue");
        // The policy service may relay outcomes: a duplicate proposal gets a copy of the first action's
        // outcome. It can already cause any execution, so relaying what happened adds no power.
        Allowed(await _probe.PublishAsync(BrokerTopology.PolicyUser, WireNames.ActionSucceededExchange, Agent, Succeeded(Agent)), "policy relaying an outcome");
        Refused(await _probe.PublishAsync(BrokerTopology.PolicyUser, WireNames.ReplayExchange, TicketingQueue), "policy publishing through the replay exchange");

        Refused(await _probe.PublishAsync(BrokerTopology.ProjectionsUser, WireNames.ExecuteToolExchange, "ticketing"), "projections publishing ExecuteTool");
        Refused(await _probe.PublishAsync(BrokerTopology.ProjectionsUser, TicketingQueue), "projections publishing to a tool queue's exchange");
        Refused(await _probe.PublishAsync(BrokerTopology.ProjectionsUser, WireNames.ActionDecidedExchange, Agent), "projections forging a decision");
        Refused(await _probe.ReadAsync(BrokerTopology.ProjectionsUser, WireNames.PolicyProposalsQueue), "projections reading proposals");
        Allowed(await _probe.ReadAsync(BrokerTopology.ProjectionsUser, WireNames.ProjectionsQueue), "projections reading its own queue");
    }

    [Fact]
    public async Task The_operator_reads_dead_letters_and_writes_only_replays_and_operator_actions()
    {
        var errorQueue = WireNames.PolicyProposalsQueue + "_error";
        using (var http = fixture.AdminHttp())
            (await http.PutAsync($"api/queues/{Uri.EscapeDataString(fixture.VirtualHost)}/{errorQueue}",
                System.Net.Http.Json.JsonContent.Create(new { durable = true, arguments = new Dictionary<string, object> { ["x-queue-type"] = "quorum" } }))).EnsureSuccessStatusCode();

        Allowed(await _probe.ReadAsync(BrokerTopology.OperatorUser, errorQueue), "operator reading a dead-letter queue");
        Allowed(await _probe.PublishAsync(BrokerTopology.OperatorUser, WireNames.ReplayExchange, "no-such-queue", userId: BrokerTopology.OperatorUser),
            "operator publishing through the replay exchange");

        Refused(await _probe.PublishAsync(BrokerTopology.OperatorUser, WireNames.ExecuteToolExchange, "payments"), "operator publishing ExecuteTool directly");
        Refused(await _probe.PublishAsync(BrokerTopology.OperatorUser, WireNames.ActionSucceededExchange, Agent, Succeeded(Agent)), "operator forging an outcome");
        Refused(await _probe.PublishAsync(BrokerTopology.OperatorUser, WireNames.ProposalsExchange), "operator publishing a proposal as itself");
        Refused(await _probe.ReadAsync(BrokerTopology.OperatorUser, PaymentsQueue), "operator reading a live tool queue");
        Refused(await _probe.ReadAsync(BrokerTopology.OperatorUser, WireNames.AgentReplyQueue(Agent)), "operator reading an agent's queue");
        Refused(await _probe.DeclareQueueAsync(BrokerTopology.OperatorUser, "agentbus.operator.tap"), "operator declaring a queue");
        Refused(await _probe.DeleteQueueAsync(BrokerTopology.OperatorUser, errorQueue), "operator deleting a dead-letter queue");
    }
}

/// <summary>
/// The same refusals as services meet them, through MassTransit: a refused publish does not
/// throw, it retries until its cancellation token fires, so each attempt here has a deadline.
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed class MassTransitRefusalTests(PipelineFixture fixture) : IAsyncLifetime
{
    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    async Task<IBusControl> BusAs(string user)
    {
        AgentBus.ServiceDefaults.Messaging.WireJson.Configure();
        var bus = Bus.Factory.CreateUsingRabbitMq(cfg =>
        {
            cfg.Host(fixture.Servers.RabbitHost, (ushort)fixture.Servers.RabbitPort, fixture.VirtualHost, host =>
            {
                host.Username(user);
                host.Password(fixture.Secrets.GetOrCreate("rabbitmq", user));
                host.PublisherConfirmation = true;
            });
            cfg.ClearSerialization();
            cfg.UseRawJsonSerializer(RawSerializerOptions.AddTransportHeaders, isDefault: true);
            AgentBus.ServiceDefaults.Messaging.BusTopology.Configure(cfg);
        });
        using var starting = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await bus.StartAsync(starting.Token);
        return bus;
    }

    // The broker refuses the publish before anyone could look at the signature, so a dummy one does.
    static ExecuteTool Command(string tool) => new(Guid.CreateVersion7().ToString(), "run-mt-refused", "support-bot", tool,
        JsonSerializer.SerializeToElement(new { method = "GET", url = "http://127.0.0.1/" }), "sha256:" + new string('0', 64), null, DateTimeOffset.UtcNow,
        new ToolAuthorization("unsigned", null, DateTimeOffset.UtcNow, ""));

    [Theory]
    [InlineData("agentbus-executor-ticketing")]
    [InlineData(BrokerTopology.ProjectionsUser)]
    [InlineData(BrokerTopology.OperatorUser)]
    public async Task A_service_other_than_the_policy_cannot_publish_a_command(string user)
    {
        var bus = await BusAs(user);
        try
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await Assert.ThrowsAnyAsync<Exception>(() => bus.Publish(Command("payments"), deadline.Token));
        }
        finally
        {
            using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await bus.StopAsync(stopping.Token);
        }

        await Task.Delay(500);
        Assert.Equal(0u, await new DeadLetterKit(fixture).DepthAsync(WireNames.ToolQueue("payments")));
        Assert.Empty(fixture.SandboxCalls.Calls);
        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM audit_events WHERE run_id = 'run-mt-refused'"));
    }

    [Fact]
    public async Task The_policy_service_can()
    {
        var bus = await BusAs(BrokerTopology.PolicyUser);
        try
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var command = Command("ticketing");
            await bus.Publish(command, send => send.Mandatory = true, deadline.Token);
            await Eventually.True(async () => await fixture.CountAsync(
                "SELECT count(*) FROM audit_events WHERE action_id = @ActionId AND event_type = 'ActionFailed'", command) == 1,
                "the executor's answer to the policy's command");
        }
        finally
        {
            using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await bus.StopAsync(stopping.Token);
        }
    }
}
