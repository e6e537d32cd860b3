using System.Net.Http.Json;
using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.IntegrationTests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using RabbitMQ.Client;

namespace AgentBus.IntegrationTests.Executor;

/// <summary>An action id runs at most once, whatever the broker delivers and however many copies compete.</summary>
[Collection(ExecutorCollection.Name)]
public sealed class AtMostOnceTests(ExecutorFixture fixture) : IAsyncLifetime
{
    readonly List<WebApplication> _extraCopies = [];

    public Task InitializeAsync() => fixture.ResetAsync();

    public async Task DisposeAsync()
    {
        foreach (var copy in _extraCopies)
            await fixture.StopHostAsync(copy);
    }

    async Task<int> OutcomesDeliveredToAgentAsync(IChannel channel, string actionId, List<(string? MessageId, JsonElement Body)> seen)
    {
        while (await channel.BasicGetAsync(WireNames.AgentReplyQueue("support-bot"), autoAck: true) is { } delivery)
            if (delivery.BasicProperties.Type == nameof(ActionSucceeded))
                seen.Add((delivery.BasicProperties.MessageId, JsonSerializer.Deserialize<JsonElement>(delivery.Body.Span)));
        return seen.Count(s => s.Body.GetProperty("actionId").GetString() == actionId);
    }

    [Fact]
    public async Task The_same_command_delivered_twice_calls_the_system_once_and_repeats_the_same_outcome()
    {
        await using var connection = await fixture.ConnectionFactoryFor("support-bot").CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        var seen = new List<(string? MessageId, JsonElement Body)>();
        var command = fixture.Command("ticketing", fixture.Ticket("twice"));

        await fixture.PublishAsync(command);
        await Eventually.True(async () => await OutcomesDeliveredToAgentAsync(channel, command.ActionId, seen) == 1, "the first outcome");
        await fixture.PublishAsync(command);
        await Eventually.True(async () => await OutcomesDeliveredToAgentAsync(channel, command.ActionId, seen) == 2, "the repeated outcome");

        Assert.Single(fixture.SandboxCalls.Calls, c => c.ActionId == command.ActionId);
        var outcomes = seen.Where(s => s.Body.GetProperty("actionId").GetString() == command.ActionId).ToList();
        Assert.Equal(outcomes[0].MessageId, outcomes[1].MessageId);
        Assert.Equal(outcomes[0].Body.GetRawText(), outcomes[1].Body.GetRawText());
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @ActionId AND event_type = 'ActionSucceeded'", new { command.ActionId }) == 1,
            "one success in the audit");
        Assert.Equal(1, await fixture.CountAsync("SELECT count(*) FROM execution_claims WHERE action_id = @ActionId AND state = 'succeeded'", new { command.ActionId }));
    }

    [Fact]
    public async Task Two_copies_given_the_same_command_at_once_call_the_system_once()
    {
        _extraCopies.Add(await fixture.StartExecutorAsync("ticketing"));
        // Slow calls keep the first copy busy while the second delivery arrives at the other copy.
        var commands = Enumerable.Range(0, 10).Select(i => fixture.Command("ticketing", fixture.Ticket($"race {i}", "?delayMs=300"))).ToList();
        await Task.WhenAll(commands.SelectMany(c => new[] { fixture.PublishAsync(c), fixture.PublishAsync(c) }));

        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM execution_claims WHERE state = 'succeeded'") == commands.Count, "every action finished", TimeSpan.FromSeconds(60));
        await Task.Delay(1000);
        foreach (var command in commands)
            Assert.Single(fixture.SandboxCalls.Calls, c => c.ActionId == command.ActionId);
    }

    [Fact]
    public async Task Two_copies_and_500_actions_execute_each_action_exactly_once()
    {
        _extraCopies.Add(await fixture.StartExecutorAsync("ticketing"));
        await using var agent = await fixture.ConnectAgentAsync("support-bot");

        var actionIds = new List<string>();
        for (var i = 0; i < 500; i++)
            actionIds.Add(await agent.ProposeAsync("ticketing", fixture.Ticket($"bulk {i}"), "run-500"));
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        var results = await Task.WhenAll(actionIds.Select(id => agent.WaitAsync(id, deadline.Token)));

        Assert.All(results, r => Assert.NotNull(r.Succeeded));
        var calls = fixture.SandboxCalls.Calls.GroupBy(c => c.ActionId).ToDictionary(g => g.Key!, g => g.Count());
        Assert.All(actionIds, id => Assert.Equal(1, calls.GetValueOrDefault(id)));
        Assert.Equal(500, calls.Values.Sum());

        Assert.Equal(500, await fixture.CountAsync("SELECT count(*) FROM execution_claims WHERE state = 'succeeded'"));
        Assert.Equal(2, await fixture.CountAsync("SELECT count(DISTINCT executor) FROM execution_claims"));
    }

    [Fact]
    public async Task A_copy_whose_broker_connection_drops_mid_call_finishes_it_once_and_the_redelivery_repeats_its_outcome()
    {
        // The management API lists a new connection only after its next statistics tick.
        using var http = fixture.AdminHttp();
        var connections = await Eventually.Get(
            () => http.GetFromJsonAsync<JsonElement>($"api/vhosts/{Uri.EscapeDataString(fixture.VirtualHost)}/connections"),
            list => list.EnumerateArray().Any(c => c.GetProperty("user").GetString() == "agentbus-executor-ticketing"),
            "the executor's connection in the management API");

        await using var agent = await fixture.ConnectAgentAsync("support-bot");
        var actionId = await agent.ProposeAsync("ticketing", fixture.Ticket("connection drop", "?delayMs=4000"), "run-drop");
        await Eventually.True(() => Task.FromResult(fixture.SandboxCalls.Calls.Any(c => c.ActionId == actionId)), "the call to reach the system");

        // Cut the executor's AMQP connection while its call is in flight: RabbitMQ requeues the
        // command, the process lives on and keeps its claim alive.
        var cut = 0;
        foreach (var connection in connections.EnumerateArray().Where(c => c.GetProperty("user").GetString() == "agentbus-executor-ticketing"))
        {
            using var request = new HttpRequestMessage(HttpMethod.Delete, $"api/connections/{Uri.EscapeDataString(connection.GetProperty("name").GetString()!)}");
            request.Headers.Add("X-Reason", "test: broker connection drops mid-call");
            (await http.SendAsync(request)).EnsureSuccessStatusCode();
            cut++;
        }
        Assert.True(cut > 0);

        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var result = await agent.WaitAsync(actionId, deadline.Token);

        Assert.NotNull(result.Succeeded);
        Assert.Equal("succeeded", (await fixture.QueryAsync<string>("SELECT state FROM execution_claims WHERE action_id = @actionId", new { actionId })).Single());
        await Eventually.True(async () => await fixture.QueueDepthAsync(WireNames.ToolQueue("ticketing")) == 0,
            "the redelivered command answered from the claim", TimeSpan.FromSeconds(30));
        Assert.Single(fixture.SandboxCalls.Calls, c => c.ActionId == actionId);
        Assert.Equal(0, await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @actionId AND event_type = 'ActionFailed'", new { actionId }));
    }
}
