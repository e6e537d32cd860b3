using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using AgentBus.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace AgentBus.IntegrationTests.Approvals;

/// <summary>
/// Many approvals decided over HTTP at once, all granted exactly once; prints the approve call's
/// latency (the HTTP request, the saga's locked transaction and its reply over RabbitMQ). Figures from
/// a shared 2-core machine are indicative only.
/// </summary>
[Collection(ApprovalsCollection.Name)]
public sealed class ApprovalLatencyTests(ApprovalsFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Two_hundred_approvals_approved_eight_at_a_time_are_each_granted_once()
    {
        const int count = 200;
        var token = await fixture.AddApproverAsync("bob", "finance");
        var requests = new List<AgentBus.Contracts.ApprovalRequested>();
        for (var i = 0; i < count; i++)
            requests.Add(ApprovalsFixture.Request());
        foreach (var request in requests)
            await fixture.RequestApprovalAsync(request);

        using var http = fixture.Approvals.Http(token);
        var latencies = new List<double>();
        var total = Stopwatch.StartNew();
        await Parallel.ForEachAsync(requests, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (request, ct) =>
        {
            var watch = Stopwatch.StartNew();
            var response = await http.PostAsJsonAsync($"/api/approvals/{request.ApprovalId}/approve", new { comment = "ok" }, ct);
            watch.Stop();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            lock (latencies)
                latencies.Add(watch.Elapsed.TotalMilliseconds);
        });
        total.Stop();

        Assert.Equal(count, await fixture.CountAsync("SELECT count(*) FROM approval_sagas WHERE current_state = 'Granted'"));
        latencies.Sort();
        output.WriteLine($"{count} approvals, 8 concurrent approvers' calls: {count / total.Elapsed.TotalSeconds:F0} decisions/s; " +
                         $"approve latency p50 {latencies[count / 2]:F1} ms, p95 {latencies[count * 95 / 100]:F1} ms, max {latencies[^1]:F1} ms");
        // One ApprovalGranted each, nothing else: the outcomes queue holds exactly one message per approval.
        await Eventually.True(async () => await fixture.QueueDepthAsync(ApprovalsFixture.OutcomesQueue) >= count, "every grant published");
        await Task.Delay(500);
        Assert.Equal(count, await fixture.QueueDepthAsync(ApprovalsFixture.OutcomesQueue));
    }
}
