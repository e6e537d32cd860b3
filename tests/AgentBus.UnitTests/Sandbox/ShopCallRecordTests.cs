using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace AgentBus.UnitTests.Sandbox;

/// <summary>The shop's calls join the recorder's in the CallLog, so "executed exactly once" checks cover them too.</summary>
public sealed class ShopCallRecordTests(SandboxFixture sandbox) : IClassFixture<SandboxFixture>, IAsyncLifetime
{
    public Task InitializeAsync() => sandbox.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Refund_and_its_replay_are_recorded_with_ids_key_reference_and_body()
    {
        for (var i = 0; i < 2; i++)
        {
            var request = sandbox.Request(HttpMethod.Post, "/api/orders/ORD-1001/refunds", Credential.Payments,
                SandboxFixture.Json("""{"amountUsd":12.5,"reason":"damaged"}"""), idempotencyKey: "key-1");
            request.Headers.Add("X-AgentBus-Run-Id", "run-1");
            request.Headers.Add("X-AgentBus-Action-Id", "action-1");
            await sandbox.SendAsync(request);
        }

        var calls = sandbox.Calls.ToList();
        Assert.Equal(2, calls.Count);
        Assert.All(calls, call =>
        {
            Assert.Equal("POST", call.Method);
            Assert.Equal("/api/orders/ORD-1001/refunds", call.Path);
            Assert.True(call.Authorized);
            Assert.Equal("run-1", call.RunId);
            Assert.Equal("action-1", call.ActionId);
            Assert.Equal("key-1", call.IdempotencyKey);
            Assert.Equal("RF-000001", call.Reference);
            Assert.Equal(12.5m, call.Body!.Value.GetProperty("amountUsd").GetDecimal());
        });
        Assert.Equal([201, 200], calls.Select(c => c.Status));
        Assert.Equal([false, true], calls.Select(c => c.Replayed));
    }

    [Fact]
    public async Task Form_comment_is_recorded_as_a_json_object_of_its_fields()
    {
        await sandbox.CreateTicketAsync();

        await sandbox.CommentAsync("TCK-000001", "Refund sent.", "internal");

        var call = sandbox.Calls.Last();
        Assert.Equal(201, call.Status);
        Assert.Equal("CMT-000001", call.Reference);
        Assert.Equal("Refund sent.", call.Body!.Value.GetProperty("body").GetString());
        Assert.Equal("internal", call.Body!.Value.GetProperty("visibility").GetString());
    }

    [Fact]
    public async Task Reads_record_what_they_read_and_refusals_record_no_reference()
    {
        await sandbox.GetOrderAsync("ORD-1002");
        await sandbox.GetOrderAsync("ORD-9999");
        await sandbox.SendAsync(HttpMethod.Get, "/api/orders/ORD-1002", Credential.None);

        var calls = sandbox.Calls.ToList();
        Assert.Equal([200, 404, 401], calls.Select(c => c.Status));
        Assert.Equal(["ORD-1002", null, null], calls.Select(c => c.Reference));
        Assert.Equal([true, true, false], calls.Select(c => c.Authorized));
    }

    [Fact]
    public async Task Record_of_shop_calls_is_served_by_get_calls()
    {
        await sandbox.RefundAsync("ORD-1001", 1m);
        await sandbox.CreateTicketAsync();
        await sandbox.CommentAsync("TCK-000001", "hi");

        var response = await sandbox.Client.GetAsync("/calls");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var calls = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(["RF-000001", "TCK-000001", "CMT-000001"], calls.EnumerateArray().Select(c => c.GetProperty("reference").GetString()));
    }

    [Fact]
    public async Task Delete_calls_resets_the_shop_to_its_seed_and_empties_the_record()
    {
        await sandbox.RefundAsync("ORD-1001", 250m, idempotencyKey: "key-1");
        await sandbox.CreateTicketAsync();

        await sandbox.ResetAsync();

        Assert.Empty(sandbox.Calls);
        var order = await sandbox.GetOrderAsync("ORD-1001");
        Assert.Equal(0m, order.Body.GetProperty("refundedUsd").GetDecimal());
        Assert.Equal(HttpStatusCode.NotFound, (await sandbox.SendAsync(HttpMethod.Get, "/api/tickets/TCK-000001", Credential.Ticketing)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await sandbox.SendAsync(HttpMethod.Get, "/api/refunds/RF-000001", Credential.Payments)).Status);
        var fresh = await sandbox.RefundAsync("ORD-1001", 5m, idempotencyKey: "key-1");
        Assert.Equal(HttpStatusCode.Created, fresh.Status);
        Assert.Equal("RF-000001", fresh.Body.GetProperty("refundId").GetString());
    }

    [Fact]
    public async Task Delay_query_slows_a_shop_call_that_is_already_done()
    {
        var watch = Stopwatch.StartNew();
        var reply = await sandbox.SendAsync(HttpMethod.Get, "/api/orders/ORD-1001?delayMs=300", Credential.Payments);

        Assert.Equal(HttpStatusCode.OK, reply.Status);
        Assert.True(watch.ElapsedMilliseconds >= 290, $"answered after {watch.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task Recorder_endpoints_still_answer_every_call_alike()
    {
        var first = await sandbox.SendAsync(HttpMethod.Post, "/payments/refunds", Credential.Payments,
            SandboxFixture.Json("""{"amountUsd":"anything"}"""), idempotencyKey: "key-9");
        var again = await sandbox.SendAsync(HttpMethod.Post, "/payments/refunds", Credential.Payments,
            SandboxFixture.Json("""{"amountUsd":"anything"}"""), idempotencyKey: "key-9");
        var ticket = await sandbox.SendAsync(HttpMethod.Post, "/ticketing/tickets", Credential.Ticketing, SandboxFixture.Json("{}"));

        Assert.Equal(HttpStatusCode.Created, first.Status);
        Assert.Equal("recorded", first.Body.GetProperty("status").GetString());
        Assert.False(first.Body.GetProperty("replayed").GetBoolean());
        Assert.True(again.Body.GetProperty("replayed").GetBoolean());
        Assert.Equal(first.Body.GetProperty("id").GetString(), again.Body.GetProperty("id").GetString());
        Assert.StartsWith("TCK-", ticket.Body.GetProperty("id").GetString());
    }
}
