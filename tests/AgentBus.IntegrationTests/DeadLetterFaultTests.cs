using AgentBus.Operations.DeadLetters;
using AgentBus.Client;
using AgentBus.Contracts;
using AgentBus.IntegrationTests.Infrastructure;

namespace AgentBus.IntegrationTests;

/// <summary>Real faults, not laid-down dead letters: what an operator meets after an outage.</summary>
[Collection(PipelineCollection.Name)]
public sealed class DeadLetterFaultTests(PipelineFixture fixture) : IAsyncLifetime
{
    static readonly string ProjectionsError = WireNames.ProjectionsQueue + "_error";

    readonly DeadLetterKit _kit = new(fixture);

    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Events_that_failed_while_the_audit_table_was_gone_are_recorded_once_it_is_back_and_they_are_replayed()
    {
        await using var support = await fixture.ConnectAgentAsync("support-bot");
        ActionResult result;
        await _kit.ExecuteSqlAsync("ALTER TABLE audit_events RENAME TO audit_events_away");
        try
        {
            result = await support.RunAsync("ticketing",
                new { method = "POST", url = new Uri(fixture.SandboxUrl, "/ticketing/tickets").ToString(), body = new { title = "outage" } },
                "run-outage", TimeSpan.FromSeconds(20));
            // The authorization and the decision it carries are written with the outcome, which carries the start.
            await Eventually.True(async () => await _kit.DepthAsync(ProjectionsError) == 1,
                "the outcome in the error queue", TimeSpan.FromSeconds(45));
        }
        finally
        {
            await _kit.ExecuteSqlAsync("ALTER TABLE audit_events_away RENAME TO audit_events");
        }
        Assert.NotNull(result.Succeeded);

        await using var broker = await _kit.ConnectAsync();
        var summary = Assert.Single(await DeadLetterInspector.ListAsync(broker, 100, CancellationToken.None), s => s.Queue == ProjectionsError);
        Assert.All(summary.Groups, g => Assert.Equal("Npgsql.PostgresException", g.Failure));
        Assert.Equal([nameof(ActionSucceeded)], summary.Groups.Select(g => g.MessageType));

        Assert.Equal(0, await _kit.RunCliAsync(_kit.CliArguments("replay", ProjectionsError, "--all", "--operator", "erin")));

        // The proposal's own row comes from its own endpoint (its error queue is not replayed here).
        await Eventually.True(async () => await fixture.CountAsync(
                "SELECT count(*) FROM audit_events WHERE action_id = @ActionId AND event_type <> 'ActionProposed'", result) == 4,
            "the decision, authorization, execution start and outcome in the audit");
        Assert.Equal(0u, await _kit.DepthAsync(ProjectionsError));
        Assert.Single(fixture.SandboxCalls.Calls, c => c.ActionId == result.ActionId);
    }
}
