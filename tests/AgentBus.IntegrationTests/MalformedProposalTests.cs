using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.IntegrationTests.Infrastructure;
using RabbitMQ.Client;

namespace AgentBus.IntegrationTests;

[Collection(PipelineCollection.Name)]
public sealed class MalformedProposalTests(PipelineFixture fixture) : IAsyncLifetime
{
    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    string TicketJson(string? actionId = null) => RawAgent.Proposal("support-bot", "ticketing",
        new { method = "POST", url = new Uri(fixture.SandboxUrl, "/ticketing/tickets").ToString(), body = new { title = "t" } }, actionId);

    public static TheoryData<string, byte[]> BadBodies() => new()
    {
        { ReasonCodes.InvalidJson, "this is not json"u8.ToArray() },
        { ReasonCodes.InvalidJson, "[1, 2, 3]"u8.ToArray() },
        { ReasonCodes.InvalidJson, "{\"actionId\": "u8.ToArray() },
        { ReasonCodes.InvalidUtf8, [0x7B, 0x22, 0xC3, 0x28, 0x22, 0x3A, 0x31, 0x7D] },
        { ReasonCodes.MissingField, "{}"u8.ToArray() },
        { ReasonCodes.InvalidFieldType, """{"actionId": 42, "runId": "r", "agentId": "support-bot", "tool": "ticketing", "arguments": {}}"""u8.ToArray() },
        { ReasonCodes.InvalidField, """{"actionId": "not-a-uuid", "runId": "r", "agentId": "support-bot", "tool": "ticketing", "arguments": {}}"""u8.ToArray() },
        { ReasonCodes.InvalidFieldType, """{"actionId": "0193e3c2-6f1a-7c3b-9d4e-2a1b3c4d5e6f", "runId": "r", "agentId": "support-bot", "tool": "ticketing", "arguments": "rm -rf /"}"""u8.ToArray() },
        { ReasonCodes.UnknownField, """{"actionId": "0193e3c2-6f1a-7c3b-9d4e-2a1b3c4d5e6f", "runId": "r", "agentId": "support-bot", "tool": "ticketing", "arguments": {}, "approved": true}"""u8.ToArray() },
        { ReasonCodes.PayloadTooLarge, Encoding.UTF8.GetBytes("{\"pad\":\"" + new string('x', 70_000) + "\"}") },
        { ReasonCodes.InvalidJson, Encoding.UTF8.GetBytes(new string('[', 200) + new string(']', 200)) },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task A_malformed_proposal_gets_a_reason_coded_denial_and_the_policy_service_keeps_working(string reasonCode, byte[] body)
    {
        await using var agent = await RawAgent.ConnectAsync(fixture, "support-bot");

        var reply = await agent.DecisionForAsync(await agent.PublishAsync(body));

        Assert.Equal("denied", reply.GetProperty("decision").GetString());
        Assert.Equal(reasonCode, reply.GetProperty("reasonCode").GetString());
        Assert.False(string.IsNullOrWhiteSpace(reply.GetProperty("reason").GetString()));

        // The next, well-formed proposal runs: allowed at once, its answer is its outcome.
        var actionId = Guid.CreateVersion7().ToString();
        var answer = await agent.AnswerForAsync(await agent.PublishAsync(TicketJson(actionId)), actionId);
        Assert.Equal(nameof(ActionSucceeded), answer.Type);
        Assert.Equal(0, await fixture.QueueDepthAsync(WireNames.PolicyProposalsQueue + "_error"));
    }

    [Fact]
    public async Task A_proposal_naming_another_agent_is_denied_for_identity_mismatch()
    {
        await using var agent = await RawAgent.ConnectAsync(fixture, "support-bot");
        var spoofed = RawAgent.Proposal("intern-bot", "ticketing", new { method = "GET", url = "http://127.0.0.1/" });

        var reply = await agent.DecisionForAsync(await agent.PublishAsync(spoofed));

        Assert.Equal(ReasonCodes.IdentityMismatch, reply.GetProperty("reasonCode").GetString());
        Assert.Equal("support-bot", reply.GetProperty("agentId").GetString());
    }

    [Fact]
    public async Task A_proposal_without_user_id_is_denied_and_audited_but_reaches_no_agent_queue()
    {
        await using var agent = await RawAgent.ConnectAsync(fixture, "support-bot");
        var actionId = Guid.CreateVersion7().ToString();

        await agent.PublishAsync(TicketJson(actionId), userId: null);

        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @actionId AND reason_code = 'identity_missing'", new { actionId }) == 1,
            "the identity_missing decision in the audit");
        Assert.DoesNotContain(await agent.DrainAsync(),
            reply => reply.TryGetProperty("actionId", out var id) && id.ValueKind == JsonValueKind.String && id.GetString() == actionId);
    }

    [Fact]
    public async Task RabbitMQ_closes_the_channel_of_an_agent_that_sets_another_users_user_id()
    {
        var factory = fixture.ConnectionFactoryFor("support-bot");
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        var properties = new BasicProperties { UserId = "intern-bot", ContentType = WireNames.ContentType };

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await Assert.ThrowsAnyAsync<Exception>(async () =>
            await channel.BasicPublishAsync(WireNames.ProposalsExchange, "", true, properties,
                Encoding.UTF8.GetBytes(RawAgent.Proposal("intern-bot", "ticketing", new { })), timeout.Token));
        Assert.True(channel.IsClosed);
        Assert.Equal(406, channel.CloseReason!.ReplyCode);
    }

    [Fact]
    public async Task A_proposal_whose_command_cannot_be_routed_lands_in_the_error_queue_without_the_agents_user_id()
    {
        using var http = fixture.AdminHttp();
        var vhost = Uri.EscapeDataString(fixture.VirtualHost);
        var binding = $"api/bindings/{vhost}/e/{WireNames.ExecuteToolExchange}/e/{WireNames.ToolQueue("payments")}";
        (await http.DeleteAsync($"{binding}/payments")).EnsureSuccessStatusCode();
        try
        {
            await using var agent = await RawAgent.ConnectAsync(fixture, "support-bot");
            var actionId = Guid.CreateVersion7().ToString();
            await agent.PublishAsync(RawAgent.Proposal("support-bot", "payments", new { method = "GET", url = "http://127.0.0.1/" }, actionId));

            var errorQueue = WireNames.PolicyProposalsQueue + "_error";
            await Eventually.True(async () => await fixture.QueueDepthAsync(errorQueue) == 1, "the proposal in the error queue",
                TimeSpan.FromSeconds(45));

            var factory = fixture.ConnectionFactoryFor(BrokerUserForErrors);
            await using var connection = await factory.CreateConnectionAsync();
            await using var channel = await connection.CreateChannelAsync();
            var moved = await channel.BasicGetAsync(errorQueue, autoAck: false);
            Assert.NotNull(moved);
            Assert.False(moved!.BasicProperties.IsUserIdPresent());
            var headers = moved.BasicProperties.Headers!;
            Assert.Equal("support-bot", Encoding.UTF8.GetString((byte[])headers["AgentBus-Broker-User-Id"]!));
            Assert.Contains("PublishReturnException", Encoding.UTF8.GetString((byte[])headers["MT-Fault-ExceptionType"]!));
            Assert.Equal(actionId, JsonSerializer.Deserialize<JsonElement>(moved.Body.Span).GetProperty("actionId").GetString());
            await channel.BasicNackAsync(moved.DeliveryTag, false, requeue: true);
        }
        finally
        {
            (await http.PostAsync($"{binding}", JsonContent.Create(new { routing_key = "payments" }))).EnsureSuccessStatusCode();
        }
    }

    const string BrokerUserForErrors = "agentbus-operator";
}
