using AgentBus.Contracts;
using AgentBus.IntegrationTests.Infrastructure;

namespace AgentBus.IntegrationTests.Executor;

/// <summary>The executor as it is deployed: a process of its own, which can crash, and which refuses to start misconfigured.</summary>
[Collection(ExecutorProcessCollection.Name)]
public sealed class ExecutorProcessTests(ExecutorProcessFixture fixture) : IAsyncLifetime
{
    static readonly Dictionary<string, string?> ShortLease = new() { ["Executor__ClaimLease"] = "00:00:02" };

    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Kill_9_in_the_middle_of_a_call_leaves_the_action_outcome_unknown_and_it_is_never_called_again()
    {
        await using var agent = await fixture.ConnectAgentAsync("support-bot");
        string actionId;
        await using (var first = await ExecutorProcess.StartAsync(fixture, "ticketing", ShortLease))
        {
            await ExecutorProcess.WaitForConsumersAsync(fixture, "ticketing", 1, first);
            actionId = await agent.ProposeAsync("ticketing", fixture.Ticket("slow", "?delayMs=30000"), "run-kill");
            await Eventually.True(() => Task.FromResult(fixture.SandboxCalls.Calls.Any(c => c.ActionId == actionId)),
                "the call to reach the system", TimeSpan.FromSeconds(30));
            Assert.Equal("running", (await fixture.QueryAsync<string>("SELECT state FROM execution_claims WHERE action_id = @actionId", new { actionId })).Single());

            await first.KillAsync();
        }

        await using var second = await ExecutorProcess.StartAsync(fixture, "ticketing", ShortLease);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var result = await agent.WaitAsync(actionId, deadline.Token);

        Assert.NotNull(result.Failed);
        Assert.True(result.Failed!.OutcomeUnknown);
        Assert.Equal(ExecutionErrorCodes.ExecutorLost, result.Failed.ErrorCode);
        Assert.Equal("outcome_unknown", (await fixture.QueryAsync<string>("SELECT state FROM execution_claims WHERE action_id = @actionId", new { actionId })).Single());
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @actionId AND event_type = 'ActionFailed' AND outcome = 'outcome_unknown'", new { actionId }) == 1,
            "the outcome-unknown failure in the audit");

        // The second copy answered from the claim; give a stray retry every chance to show up.
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Single(fixture.SandboxCalls.Calls, c => c.ActionId == actionId);
        // The management API's queue statistics lag by a few seconds.
        await Eventually.True(async () => await fixture.QueueDepthAsync(WireNames.ToolQueue("ticketing")) == 0,
            "the redelivered command acknowledged", TimeSpan.FromSeconds(20));
        Assert.Equal(0, await fixture.QueueDepthAsync(WireNames.ToolQueue("ticketing") + "_error"));
    }

    [Fact]
    public async Task Several_copies_of_the_executor_process_share_the_queue_and_run_each_action_once()
    {
        await using var one = await ExecutorProcess.StartAsync(fixture, "ticketing");
        await using var two = await ExecutorProcess.StartAsync(fixture, "ticketing");
        await ExecutorProcess.WaitForConsumersAsync(fixture, "ticketing", 2, one);

        await using var agent = await fixture.ConnectAgentAsync("support-bot");
        var ids = new List<string>();
        for (var i = 0; i < 40; i++)
            ids.Add(await agent.ProposeAsync("ticketing", fixture.Ticket($"copy {i}", "?delayMs=20"), "run-copies"));
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var results = await Task.WhenAll(ids.Select(id => agent.WaitAsync(id, deadline.Token)));

        Assert.All(results, r => Assert.NotNull(r.Succeeded));
        Assert.All(ids, id => Assert.Single(fixture.SandboxCalls.Calls, c => c.ActionId == id));
        Assert.Equal(2, await fixture.CountAsync("SELECT count(DISTINCT executor) FROM execution_claims"));
    }

    public static TheoryData<string, string[], string> Misconfigurations() => new()
    {
        { "another tool's secret name", ["--secret-name", "payments"], "Executor:SecretName is 'payments' but this executor runs tool 'ticketing'" },
        { "another tool's secret in its environment", [], "holds another tool's secret (AGENTBUS_TOOL_SECRET_PAYMENTS)" },
        { "no secret", ["--secrets-directory", "/nonexistent-agentbus-secrets"], "No secret for tool 'ticketing'" },
        { "no policy key", ["--policy-keys", "/nonexistent-agentbus-keys"], "Executor:PolicyKeys: The public key path '/nonexistent-agentbus-keys' does not exist." },
    };

    [Theory]
    [MemberData(nameof(Misconfigurations))]
    public async Task A_misconfigured_executor_refuses_to_start_with_a_message_that_says_why(string what, string[] arguments, string message)
    {
        var environment = new Dictionary<string, string?>();
        if (what.Contains("environment"))
            environment["AGENTBUS_TOOL_SECRET_PAYMENTS"] = "not-for-ticketing";
        await using var executor = await ExecutorProcess.StartAsync(fixture, "ticketing", environment, arguments);

        var exitCode = await executor.WaitForExitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(2, exitCode);
        Assert.Contains(message, executor.Output);
        Assert.Contains("agentbus-executor: cannot start:", executor.Output);
        Assert.DoesNotContain("not-for-ticketing", executor.Output);
        Assert.DoesNotContain(await File.ReadAllTextAsync(Path.Combine(fixture.ToolSecretsDirectory, "payments")), executor.Output);
        Assert.Equal(0, await fixture.CountAsync("SELECT count(*) FROM execution_claims"));
    }
}
