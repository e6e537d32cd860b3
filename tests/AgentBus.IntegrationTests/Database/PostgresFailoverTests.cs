using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.IntegrationTests.Infrastructure;
using Dapper;
using Npgsql;
using Xunit.Abstractions;

namespace AgentBus.IntegrationTests.Database;

/// <summary>
/// The projections service writes an audit row for every proposal, so every message is a database write.
/// Proposals flow steadily before, during and after the database fault; the service must write each one
/// exactly once, never exit, and be ready again by itself, with nothing but its multi-host connection
/// string to find the primary. The stall is printed (run with --logger "console;verbosity=detailed").
/// </summary>
[Collection(PostgresFailoverCollection.Name)]
public sealed class PostgresFailoverTests(PostgresPairFixture fixture, ITestOutputHelper output)
{
    static readonly TimeSpan SendInterval = TimeSpan.FromMilliseconds(20);

    [PostgresPairFact]
    public Task Every_proposal_is_audited_exactly_once_across_a_primary_restart() => RideThroughAsync("restart-primary");

    [PostgresPairFact]
    public Task Every_proposal_is_audited_exactly_once_across_a_failover_to_the_promoted_standby() => RideThroughAsync("failover");

    async Task RideThroughAsync(string fault)
    {
        // After the other test's failover the old primary is down: `up` brings it back as the new primary's standby.
        var upTook = await fixture.PairAsync("up");
        await Eventually.True(() => fixture.Projections.IsReadyAsync(CancellationToken.None), "the projections service to be ready", TimeSpan.FromSeconds(30));

        await using var agent = await fixture.ConnectAgentAsync();
        var runId = $"{fault}-{Guid.NewGuid():N}";
        var sent = new ConcurrentDictionary<string, DateTimeOffset>();
        using var stop = new CancellationTokenSource();
        var traffic = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var at = DateTimeOffset.UtcNow;
                var actionId = await agent.ProposeAsync(PostgresPairFixture.Tool, new { title = "printer on fire" }, runId);
                sent[actionId] = at;
                await Task.Delay(SendInterval);
            }
        });
        var readiness = new Readiness(fixture.Projections);
        var watching = readiness.WatchAsync(stop.Token);

        await Task.Delay(TimeSpan.FromSeconds(2));
        var faultAt = DateTimeOffset.UtcNow;
        var faultTook = await fixture.PairAsync(fault);
        // Ready again means the health check's SELECT 1 reached a primary; traffic goes on a while after it.
        await Eventually.True(() => fixture.Projections.IsReadyAsync(CancellationToken.None), $"the service to be ready after {fault}", TimeSpan.FromSeconds(45));
        await Task.Delay(TimeSpan.FromSeconds(2));
        await stop.CancelAsync();
        await traffic;
        await watching;

        var rows = await AuditedAsync(runId);
        for (var deadline = DateTime.UtcNow.AddSeconds(30); !rows.Select(r => r.ActionId).ToHashSet().IsSupersetOf(sent.Keys) && DateTime.UtcNow < deadline;)
        {
            await Task.Delay(200);
            rows = await AuditedAsync(runId);
        }

        var missing = sent.Keys.Except(rows.Select(r => r.ActionId)).Count();
        var twice = rows.GroupBy(r => r.ActionId).Count(g => g.Count() > 1);
        var faulted = await ErrorQueueDepthAsync();
        Assert.True(missing == 0 && faulted == 0, $"{missing} of {sent.Count} proposals were never audited; {faulted} messages in the " +
            $"projections' error queue. Service log:{Environment.NewLine}{fixture.Projections.Tail(30)}");
        Assert.Equal(0, twice);
        Assert.Equal(sent.Count, rows.Count);
        Assert.True(fixture.Projections.Running, $"the projections service exited:{Environment.NewLine}{fixture.Projections.Tail(40)}");
        Assert.Equal(0, fixture.Projections.UnexpectedExits);

        var written = rows.Select(r => r.RecordedAt).Order().ToList();
        var stall = written.Zip(written.Skip(1), (a, b) => b - a).Where((_, i) => written[i + 1] >= faultAt).DefaultIfEmpty().Max();
        var longestWait = rows.Max(r => r.RecordedAt - sent[r.ActionId]);
        output.WriteLine($"{fault}: {sent.Count} proposals ({sent.Count(s => s.Value < faultAt)} before the fault), each audited once; " +
                         $"pg-pair.sh {fault} took {faultTook.TotalSeconds:0.00} s; writes stalled {stall.TotalSeconds:0.00} s " +
                         $"(longest gap between audit writes); longest send-to-write {longestWait.TotalSeconds:0.00} s; " +
                         $"/health/ready unready for {readiness.Unready.TotalSeconds:0.00} s (pg-pair.sh up before it took {upTook.TotalSeconds:0.00} s)");
    }

    sealed record Audited(string ActionId, DateTimeOffset RecordedAt);

    async Task<List<Audited>> AuditedAsync(string runId)
    {
        try
        {
            await using var connection = await fixture.Database.OpenConnectionAsync();
            return (await connection.QueryAsync<(string ActionId, DateTime RecordedAt)>(
                    "SELECT action_id, recorded_at FROM audit_events WHERE run_id = @runId AND event_type = 'ActionProposed'", new { runId }))
                .Select(r => new Audited(r.ActionId, new DateTimeOffset(DateTime.SpecifyKind(r.RecordedAt, DateTimeKind.Utc))))
                .ToList();
        }
        catch (NpgsqlException)
        {
            // The test's own pool may still hold a connection to the old primary; the next look opens another.
            return [];
        }
    }

    async Task<long> ErrorQueueDepthAsync()
    {
        using var http = new HttpClient { BaseAddress = fixture.Servers.ManagementUrl };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{fixture.Servers.AdminUser}:{fixture.Servers.AdminPassword}")));
        var queue = WireNames.ProjectionsProposalsQueue + "_error";
        using var response = await http.GetAsync($"api/queues/{Uri.EscapeDataString(fixture.VirtualHost)}/{Uri.EscapeDataString(queue)}");
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
            return 0;
        response.EnsureSuccessStatusCode();
        var info = await response.Content.ReadFromJsonAsync<JsonElement>();
        return info.TryGetProperty("messages", out var messages) ? messages.GetInt64() : 0;
    }

    /// <summary>How long the readiness probe answered anything but 200, from its first failure to its last.</summary>
    sealed class Readiness(AgentBus.Testbed.ServiceProcess service)
    {
        DateTimeOffset? _firstUnready, _lastUnready;

        public TimeSpan Unready => _firstUnready is { } first && _lastUnready is { } last ? last - first : TimeSpan.Zero;

        public async Task WatchAsync(CancellationToken stop)
        {
            while (!stop.IsCancellationRequested)
            {
                var at = DateTimeOffset.UtcNow;
                if (!await service.IsReadyAsync(CancellationToken.None))
                {
                    _firstUnready ??= at;
                    _lastUnready = DateTimeOffset.UtcNow;
                }
                try
                {
                    await Task.Delay(100, stop);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }
}
