using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.IntegrationTests.Infrastructure;
using AgentBus.Policy;
using AgentBus.ServiceDefaults;
using AgentBus.ServiceDefaults.Security;
using RabbitMQ.Client;

namespace AgentBus.IntegrationTests.Executor;

/// <summary>Only the policy service can cause execution: the broker refuses agents, the executor refuses anything not signed for it.</summary>
[Collection(ExecutorCollection.Name)]
public sealed class SignedExecutionTests(ExecutorFixture fixture) : IAsyncLifetime
{
    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    public static TheoryData<string, string> AgentTargets() => new()
    {
        { WireNames.ExecuteToolExchange, "ticketing" },
        { "", WireNames.ToolQueue("ticketing") },
        { WireNames.ToolQueue("ticketing"), "" },
    };

    [Theory]
    [MemberData(nameof(AgentTargets))]
    public async Task RabbitMQ_refuses_an_agent_that_publishes_ExecuteTool_itself(string exchange, string routingKey)
    {
        var command = fixture.Command("ticketing", fixture.Ticket("agent-made"));
        var body = JsonSerializer.SerializeToUtf8Bytes(command, AgentBus.ServiceDefaults.Messaging.WireJson.Options);

        await using var connection = await fixture.ConnectionFactoryFor("support-bot").CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        var properties = new BasicProperties { ContentType = WireNames.ContentType, UserId = "support-bot", Type = nameof(ExecuteTool) };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));

        await Assert.ThrowsAnyAsync<Exception>(async () =>
            await channel.BasicPublishAsync(exchange, routingKey, true, properties, body, timeout.Token));
        Assert.True(channel.IsClosed);
        Assert.Equal(403, channel.CloseReason!.ReplyCode);

        await Task.Delay(500);
        Assert.Empty(fixture.SandboxCalls.Calls);
        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM execution_claims"));
    }

    public static TheoryData<string> Forgeries() =>
    [
        ExecutionErrorCodes.AuthorizationInvalid,
        ExecutionErrorCodes.AuthorizationUnknownKey,
        ExecutionErrorCodes.AuthorizationMissing,
        ExecutionErrorCodes.WrongTool,
        ExecutionErrorCodes.ArgumentsChanged,
    ];

    [Theory]
    [MemberData(nameof(Forgeries))]
    public async Task A_command_that_is_not_exactly_what_policy_signed_for_this_tool_is_refused_audited_and_never_run(string errorCode)
    {
        using var stranger = new AuthorizationSigner(SigningKeys.Generate());
        var good = fixture.Command("ticketing", fixture.Ticket("forged"));
        string? routingKey = null;
        var command = errorCode switch
        {
            // Signed by someone else, presenting the policy service's key id.
            ExecutionErrorCodes.AuthorizationInvalid => good with { Authorization = stranger.Sign(good, null, DateTimeOffset.UtcNow.AddMinutes(5)) with { KeyId = fixture.Signer.KeyId } },
            ExecutionErrorCodes.AuthorizationUnknownKey => fixture.Command("ticketing", fixture.Ticket("forged"), signer: stranger),
            ExecutionErrorCodes.AuthorizationMissing => good with { Authorization = null! },
            ExecutionErrorCodes.ArgumentsChanged => good with { Arguments = JsonSerializer.SerializeToElement(fixture.Ticket("changed after signing")) },
            _ => fixture.Command("payments", fixture.Ticket("for another tool")),
        };
        if (errorCode == ExecutionErrorCodes.WrongTool)
            routingKey = "ticketing";

        await fixture.PublishAsync(command, routingKey: routingKey);

        await Eventually.True(async () => await fixture.CountAsync(
                "SELECT count(*) FROM audit_events WHERE action_id = @ActionId AND event_type = 'ActionFailed' AND reason_code = @errorCode",
                new { command.ActionId, errorCode }) == 1,
            $"the {errorCode} refusal in the audit");
        var failed = (await fixture.QueryAsync<string>("SELECT payload::text FROM audit_events WHERE action_id = @ActionId AND event_type = 'ActionFailed'",
            new { command.ActionId })).Single();
        Assert.False(JsonDocument.Parse(failed).RootElement.GetProperty("outcomeUnknown").GetBoolean());

        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM audit_events WHERE action_id = @ActionId AND event_type = 'ExecutionStarted'", new { command.ActionId }));
        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM execution_claims WHERE action_id = @ActionId", new { command.ActionId }));
        Assert.DoesNotContain(fixture.SandboxCalls.Calls, c => c.ActionId == command.ActionId);
    }

    [Fact]
    public async Task The_signature_is_checked_before_the_kill_switch_and_a_forgery_ends_no_action()
    {
        await fixture.SuspendAsync("agent", "support-bot");
        using var stranger = new AuthorizationSigner(SigningKeys.Generate());
        var good = fixture.Command("ticketing", fixture.Ticket("forged for a suspended agent"));
        var forged = good with { Authorization = stranger.Sign(good, null, DateTimeOffset.UtcNow.AddMinutes(5)) with { KeyId = fixture.Signer.KeyId } };

        await fixture.PublishAsync(forged);

        await Eventually.True(async () => await fixture.CountAsync(
                "SELECT count(*) FROM audit_events WHERE action_id = @ActionId AND event_type = 'ActionFailed'", new { forged.ActionId }) == 1,
            "the refusal in the audit");
        var payload = JsonDocument.Parse((await fixture.QueryAsync<string>(
            "SELECT payload::text FROM audit_events WHERE action_id = @ActionId AND event_type = 'ActionFailed'", new { forged.ActionId })).Single()).RootElement;
        Assert.Equal((ExecutionErrorCodes.AuthorizationInvalid, true), (payload.GetProperty("errorCode").GetString(), payload.GetProperty("refused").GetBoolean()));
        // An unsigned command claims nothing, so the genuine one is refused for the suspension on its own.
        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM execution_claims WHERE action_id = @ActionId", new { forged.ActionId }));
    }

    [Fact]
    public async Task A_redelivery_after_the_authorization_expired_answers_with_the_recorded_outcome_not_a_refusal()
    {
        var command = fixture.Command("ticketing", fixture.Ticket("ran, then redelivered late"), lifetime: TimeSpan.FromSeconds(3));
        await fixture.PublishAsync(command);
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @ActionId AND event_type = 'ActionSucceeded'", new { command.ActionId }) == 1,
            "the success in the audit");

        await Task.Delay(command.Authorization.NotAfter - DateTimeOffset.UtcNow + TimeSpan.FromMilliseconds(500));
        await fixture.PublishAsync(command);
        var sentinel = fixture.Command("ticketing", fixture.Ticket("sentinel"));
        await fixture.PublishAsync(sentinel);
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @ActionId AND event_type = 'ActionSucceeded'", new { sentinel.ActionId }) == 1,
            "the sentinel's success");
        await Task.Delay(1000);

        Assert.Equal(0, await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @ActionId AND event_type = 'ActionFailed'", new { command.ActionId }));
        Assert.Single(fixture.SandboxCalls.Calls, c => c.ActionId == command.ActionId);
    }

    [Fact]
    public async Task A_signed_command_that_expired_unclaimed_is_refused_for_good()
    {
        var command = fixture.Command("ticketing", fixture.Ticket("too late, for good"), lifetime: TimeSpan.FromSeconds(-1));
        await fixture.PublishAsync(command);
        await fixture.PublishAsync(command);

        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM execution_claims WHERE action_id = @ActionId AND state = 'refused'", new { command.ActionId }) == 1,
            "the refusal recorded on the claim");
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @ActionId AND event_type = 'ActionFailed'", new { command.ActionId }) == 1,
            "one refusal in the audit");
        Assert.Empty(fixture.SandboxCalls.Calls);
    }

    [Fact]
    public async Task A_refused_forgery_does_not_block_the_genuine_command_for_the_same_action()
    {
        var genuine = fixture.Command("ticketing", fixture.Ticket("genuine"));
        var forged = genuine with { Arguments = JsonSerializer.SerializeToElement(fixture.Ticket("forged first")) };

        await fixture.PublishAsync(forged);
        await fixture.PublishAsync(genuine);

        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @ActionId AND event_type = 'ActionSucceeded'", new { genuine.ActionId }) == 1,
            "the genuine command's success in the audit");
        Assert.Equal(1, await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @ActionId AND reason_code = 'arguments_changed'", new { genuine.ActionId }));
        var call = Assert.Single(fixture.SandboxCalls.Calls, c => c.ActionId == genuine.ActionId);
        Assert.Equal("genuine", call.Body!.Value.GetProperty("title").GetString());
    }

    [Fact]
    public async Task Allowed_actions_are_signed_by_the_policy_service_and_their_start_is_audited()
    {
        await using var agent = await fixture.ConnectAgentAsync("support-bot");
        var result = await agent.RunAsync("ticketing", fixture.Ticket("signed"), "run-signed", TimeSpan.FromSeconds(20));

        Assert.True(result.Succeeded is not null,
            $"expected a success, got {result.Decision.ReasonCode} / {result.Failed?.ErrorCode}: {result.Failed?.Error ?? result.Decision.Reason}");
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @ActionId AND event_type = 'ExecutionStarted'", new { result.ActionId }) == 1,
            "ExecutionStarted in the audit");
        var executor = (await fixture.QueryAsync<string>("SELECT executor FROM execution_claims WHERE action_id = @ActionId AND state = 'succeeded'",
            new { result.ActionId })).Single();
        Assert.StartsWith("ticketing@", executor);
        var started = JsonDocument.Parse((await fixture.QueryAsync<string>(
            "SELECT payload::text FROM audit_events WHERE action_id = @ActionId AND event_type = 'ExecutionStarted'", new { result.ActionId })).Single());
        Assert.Equal(executor, started.RootElement.GetProperty("executor").GetString());
    }

    [Fact]
    public async Task A_command_too_broken_to_answer_goes_to_the_error_queue_with_its_fault()
    {
        var broken = fixture.Command("ticketing", fixture.Ticket("no action id")) with { ActionId = "" };
        await fixture.PublishAsync(broken);

        var errorQueue = WireNames.ToolQueue("ticketing") + "_error";
        await Eventually.True(async () => await fixture.QueueDepthAsync(errorQueue) == 1, "the command in the error queue", TimeSpan.FromSeconds(60));
        await using var connection = await fixture.ConnectionFactoryFor("agentbus-operator").CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var moved = await channel.BasicGetAsync(errorQueue, autoAck: false);
        Assert.NotNull(moved);
        Assert.Contains("lacks actionId", System.Text.Encoding.UTF8.GetString((byte[])moved!.BasicProperties.Headers!["MT-Fault-Message"]!));
        await channel.BasicNackAsync(moved.DeliveryTag, false, requeue: true);
        Assert.Empty(fixture.SandboxCalls.Calls);
    }

    [Fact]
    public async Task The_policy_service_will_not_start_without_its_private_signing_key()
    {
        var publicKey = Path.Combine(fixture.SigningKeysDirectory, "policy-signing" + SigningKeys.PublicKeySuffix);
        var error = await Assert.ThrowsAnyAsync<Exception>(() => fixture.StartHostAsync("agentbus-policy", [],
            b => b.AddServiceDefaults("agentbus-policy", 0).AddPolicy(),
            new() { ["Policy:File"] = fixture.PolicyFile, ["Policy:Signing:PrivateKeyFile"] = publicKey }));
        Assert.Contains("Policy:Signing:PrivateKeyFile", error.Message);
        Assert.Contains("needs the private key", error.Message);
    }
}
