using System.Text.Json;
using AgentBus.Operations.DeadLetters;
using AgentBus.Contracts;
using AgentBus.IntegrationTests.Infrastructure;

namespace AgentBus.IntegrationTests;

[Collection(PipelineCollection.Name)]
public sealed class DeadLetterPurgeTests(PipelineFixture fixture) : IAsyncLifetime
{
    static readonly string ProjectionsError = WireNames.ProjectionsQueue + "_error";

    readonly DeadLetterKit _kit = new(fixture);

    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    string[] Purge(params string[] arguments) => [.. _kit.CliArguments(["purge", ProjectionsError, .. arguments]), "--postgres", fixture.ConnectionString];

    sealed record ArchiveRow(long Id, string Queue, string MessageKey, string? MessageId, string MessageType, string ExceptionType, string? ActionId,
        string? RunId, string Reason, string Operator, byte[] Body, string Headers);

    Task<IReadOnlyList<ArchiveRow>> Archive() => fixture.QueryAsync<ArchiveRow>(
        "SELECT id, queue, message_key AS MessageKey, message_id AS MessageId, message_type AS MessageType, exception_type AS ExceptionType, " +
        "action_id AS ActionId, run_id AS RunId, reason, operator, body, headers::text AS Headers FROM dead_letter_archive ORDER BY id");

    [Fact]
    public async Task Purge_without_yes_or_reason_changes_nothing()
    {
        await _kit.SeedAsync(ProjectionsError, DeadLetterKit.Succeeded());

        Assert.Equal(2, await _kit.RunCliAsync(Purge("--all", "--reason", "stale test data")));
        Assert.Equal(2, await _kit.RunCliAsync(Purge("--all", "--yes")));
        Assert.Equal(2, await _kit.RunCliAsync(Purge("--reason", "no selection", "--yes")));
        Assert.Equal(2, await _kit.RunCliAsync(Purge("--all", "--group", "abc", "--reason", "two selections", "--yes")));

        Assert.Equal(2, await _kit.RunCliAsync([.. _kit.CliArguments("purge", WireNames.ProjectionsQueue, "--all", "--reason", "live queue", "--yes"),
            "--postgres", fixture.ConnectionString]));

        await _kit.DepthSettlesAtAsync(ProjectionsError, 1);
        Assert.Empty(await Archive());
    }

    [Fact]
    public async Task A_dead_letter_queue_that_does_not_exist_is_a_clear_failure()
    {
        Assert.Equal(1, await _kit.RunCliAsync(_kit.CliArguments("show", "agentbus.tool.nothing_error")));
        await using var broker = await _kit.ConnectAsync();
        var failure = await Assert.ThrowsAsync<DeadLetterException>(() => broker.OpenAsync("agentbus.tool.nothing_error", CancellationToken.None));
        Assert.Contains("does not exist", failure.Message);
    }

    [Fact]
    public async Task Purge_moves_the_selected_messages_to_the_archive_with_the_reason_and_records_it_in_the_audit()
    {
        var stale = DeadLetterKit.Succeeded(runId: "run-stale");
        var staleId = await _kit.SeedAsync(ProjectionsError, stale, "System.FormatException", "bad data");
        var kept = await _kit.SeedAsync(ProjectionsError, DeadLetterKit.Succeeded(), "System.TimeoutException", "too slow");
        var group = DeadLetter.GroupIdFor("System.FormatException", nameof(ActionSucceeded));

        Assert.Equal(0, await _kit.RunCliAsync(Purge("--group", group, "--reason", "test data from the staging agent", "--yes", "--operator", "carol")));

        var row = Assert.Single(await Archive());
        Assert.Equal((ProjectionsError, staleId, staleId, nameof(ActionSucceeded), "System.FormatException", stale.ActionId, "run-stale"),
            (row.Queue, row.MessageKey, row.MessageId, row.MessageType, row.ExceptionType, row.ActionId, row.RunId));
        Assert.Equal(("test data from the staging agent", "carol"), (row.Reason, row.Operator));
        Assert.Equal(stale.ActionId, JsonSerializer.Deserialize<JsonElement>(row.Body).GetProperty("actionId").GetString());
        Assert.Equal("bad data", JsonSerializer.Deserialize<JsonElement>(row.Headers).GetProperty("MT-Fault-Message").GetString());

        await using var broker = await _kit.ConnectAsync();
        var (_, left) = await DeadLetterInspector.ShowAsync(broker, ProjectionsError, null, 10, CancellationToken.None);
        Assert.Equal(kept, Assert.Single(left).MessageId);

        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE event_type = 'OperatorActionTaken' AND outcome = 'dlq.purge'") == 1, "the purge in the audit");
        var audit = JsonSerializer.Deserialize<JsonElement>((await fixture.QueryAsync<string>(
            "SELECT payload::text FROM audit_events WHERE outcome = 'dlq.purge'")).Single());
        Assert.Equal("carol", audit.GetProperty("operator").GetString());
        Assert.Equal("test data from the staging agent", audit.GetProperty("reason").GetString());
        Assert.Equal(staleId, audit.GetProperty("details").GetProperty("messageIds")[0].GetString());
        Assert.Equal(row.Id, audit.GetProperty("details").GetProperty("archiveIds")[0].GetInt64());
    }

    [Fact]
    public async Task A_purge_run_again_after_an_interruption_archives_each_dead_letter_once()
    {
        var faultedAt = DateTimeOffset.UtcNow.AddMinutes(-5);
        var id = await _kit.SeedAsync(ProjectionsError, DeadLetterKit.Succeeded(), faultedAt: faultedAt);
        var archive = new DeadLetterArchive(fixture.ConnectionString);

        // As if an earlier purge had committed the archive row and died before acknowledging.
        await using (var broker = await _kit.ConnectAsync())
        await using (var session = await broker.OpenAsync(ProjectionsError, CancellationToken.None))
        {
            var message = (await session.NextAsync(CancellationToken.None))!;
            await archive.ArchiveAsync([message], "first attempt", "dave", CancellationToken.None);
        }
        await _kit.DepthSettlesAtAsync(ProjectionsError, 1);

        await using (var broker = await _kit.ConnectAsync())
        {
            var report = await new DeadLetterPurger(archive, TimeProvider.System).PurgeAsync(broker, ProjectionsError, DeadLetterSelection.Message(id),
                "dave", "second attempt", dryRun: false, null, CancellationToken.None);
            Assert.Equal(1, report.Purged);
        }

        var row = Assert.Single(await Archive());
        Assert.Equal("first attempt", row.Reason);
        Assert.Equal(0u, await _kit.DepthAsync(ProjectionsError));

        // The same message dead-lettered again later is a new dead-lettering, archived again.
        await _kit.SeedAsync(ProjectionsError, DeadLetterKit.Succeeded(), messageId: id, faultedAt: faultedAt.AddMinutes(3));
        Assert.Equal(0, await _kit.RunCliAsync(Purge("--message-id", id, "--reason", "failed again", "--yes")));
        Assert.Equal(2, (await Archive()).Count);
    }
}
