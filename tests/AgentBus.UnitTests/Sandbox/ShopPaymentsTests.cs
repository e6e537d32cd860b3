using System.Net;

namespace AgentBus.UnitTests.Sandbox;

public sealed class ShopPaymentsTests(SandboxFixture sandbox) : IClassFixture<SandboxFixture>, IAsyncLifetime
{
    public Task InitializeAsync() => sandbox.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Seeded_order_is_read_with_amounts_in_usd()
    {
        var order = await sandbox.GetOrderAsync("ORD-1005");

        Assert.Equal(HttpStatusCode.OK, order.Status);
        Assert.Equal("USD", order.Body.GetProperty("currency").GetString());
        Assert.Equal(499.99m, order.Body.GetProperty("paidUsd").GetDecimal());
        Assert.Equal(0m, order.Body.GetProperty("refundedUsd").GetDecimal());
        Assert.Equal("paid", order.Body.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Refund_within_what_was_paid_succeeds_and_raises_refundedUsd()
    {
        var refund = await sandbox.RefundAsync("ORD-1001", 100.50m);

        Assert.Equal(HttpStatusCode.Created, refund.Status);
        Assert.Equal("RF-000001", refund.Body.GetProperty("refundId").GetString());
        Assert.Equal("ORD-1001", refund.Body.GetProperty("orderId").GetString());
        Assert.Equal(100.50m, refund.Body.GetProperty("amountUsd").GetDecimal());
        Assert.Equal("succeeded", refund.Body.GetProperty("status").GetString());
        Assert.Equal("/api/refunds/RF-000001", refund.Headers.Location?.OriginalString);

        var order = await sandbox.GetOrderAsync("ORD-1001");
        Assert.Equal(100.50m, order.Body.GetProperty("refundedUsd").GetDecimal());
        Assert.Equal(149.50m, order.Body.GetProperty("remainingUsd").GetDecimal());
        Assert.Equal("partially_refunded", order.Body.GetProperty("status").GetString());

        var read = await sandbox.SendAsync(HttpMethod.Get, "/api/refunds/RF-000001", Credential.Payments);
        Assert.Equal(HttpStatusCode.OK, read.Status);
        Assert.Equal(100.50m, read.Body.GetProperty("amountUsd").GetDecimal());
    }

    [Fact]
    public async Task Refund_of_everything_paid_leaves_the_order_refunded()
    {
        Assert.Equal(HttpStatusCode.Created, (await sandbox.RefundAsync("ORD-1004", 35.50m)).Status);

        var order = await sandbox.GetOrderAsync("ORD-1004");
        Assert.Equal("refunded", order.Body.GetProperty("status").GetString());
        Assert.Equal(0m, order.Body.GetProperty("remainingUsd").GetDecimal());
    }

    [Fact]
    public async Task Refund_beyond_the_remaining_amount_is_409_with_what_remains_and_changes_nothing()
    {
        await sandbox.RefundAsync("ORD-1002", 50m);

        var refused = await sandbox.RefundAsync("ORD-1002", 30.01m);

        Assert.Equal(HttpStatusCode.Conflict, refused.Status);
        Assert.Equal("refund_exceeds_paid", refused.Error);
        Assert.Equal(30.00m, refused.Body.GetProperty("remainingUsd").GetDecimal());
        var order = await sandbox.GetOrderAsync("ORD-1002");
        Assert.Equal(50m, order.Body.GetProperty("refundedUsd").GetDecimal());
        Assert.Equal(HttpStatusCode.NotFound, (await sandbox.SendAsync(HttpMethod.Get, "/api/refunds/RF-000002", Credential.Payments)).Status);
    }

    [Fact]
    public async Task Same_idempotency_key_refunds_once_and_replays_the_first_refund()
    {
        var first = await sandbox.RefundAsync("ORD-1003", 200m, idempotencyKey: "action-42");
        var again = await sandbox.RefundAsync("ORD-1003", 200.00m, idempotencyKey: "action-42");

        Assert.Equal(HttpStatusCode.Created, first.Status);
        Assert.Equal(HttpStatusCode.OK, again.Status);
        Assert.Equal(["true"], again.Headers.GetValues("Idempotent-Replayed"));
        Assert.False(first.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(first.Body.GetProperty("refundId").GetString(), again.Body.GetProperty("refundId").GetString());
        Assert.Equal(200m, (await sandbox.GetOrderAsync("ORD-1003")).Body.GetProperty("refundedUsd").GetDecimal());
    }

    [Fact]
    public async Task Idempotency_key_used_for_another_refund_is_409_and_refunds_nothing()
    {
        await sandbox.RefundAsync("ORD-1003", 10m, idempotencyKey: "action-7");

        var other = await sandbox.RefundAsync("ORD-1003", 20m, idempotencyKey: "action-7");

        Assert.Equal(HttpStatusCode.Conflict, other.Status);
        Assert.Equal("idempotency_key_reused", other.Error);
        Assert.Equal(10m, (await sandbox.GetOrderAsync("ORD-1003")).Body.GetProperty("refundedUsd").GetDecimal());
    }

    [Fact]
    public async Task Refused_refund_does_not_use_up_its_idempotency_key()
    {
        Assert.Equal(HttpStatusCode.Conflict, (await sandbox.RefundAsync("ORD-1002", 90m, idempotencyKey: "action-9")).Status);

        Assert.Equal(HttpStatusCode.Created, (await sandbox.RefundAsync("ORD-1002", 80m, idempotencyKey: "action-9")).Status);
    }

    [Theory]
    [InlineData("""{"amountUsd":10,""", "not valid JSON")]
    [InlineData("", "not valid JSON")]
    [InlineData("""[10, "damaged"]""", "must be a JSON object, not an array")]
    [InlineData("""{"amountUsd":"10.00","reason":"damaged"}""", "amountUsd must be a JSON number")]
    [InlineData("""{"amountUsd":10,"reason":42}""", "reason must be a string, not a number")]
    [InlineData("""{"amountUsd":null,"reason":"damaged"}""", "amountUsd must be a JSON number of US dollars such as 12.50, not null")]
    [InlineData("""{"reason":"damaged"}""", "amountUsd is required")]
    [InlineData("""{"amountUsd":10}""", "reason is required")]
    [InlineData("""{"amountUsd":0,"reason":"damaged"}""", "amountUsd must be greater than 0")]
    [InlineData("""{"amountUsd":-5,"reason":"damaged"}""", "amountUsd must be greater than 0")]
    [InlineData("""{"amountUsd":10.001,"reason":"damaged"}""", "whole cents")]
    [InlineData("""{"amountUsd":1e400,"reason":"damaged"}""", "amountUsd is out of range")]
    [InlineData("""{"amountUsd":10,"reason":""}""", "reason must be 1 to 500 characters, not 0")]
    [InlineData("""{"amountUsd":10,"reason":"damaged","currency":"EUR"}""", "Unknown field 'currency'")]
    [InlineData("""{"amountUsd":10,"amountUsd":5000,"reason":"damaged"}""", "Duplicate property")]
    public async Task Malformed_or_mistyped_refund_is_422_saying_what_is_wrong(string body, string detail)
    {
        var reply = await sandbox.SendAsync(HttpMethod.Post, "/api/orders/ORD-1001/refunds", Credential.Payments, SandboxFixture.Json(body));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, reply.Status);
        Assert.Equal("invalid_request", reply.Error);
        Assert.Contains(detail, reply.Detail);
        Assert.Equal(0m, (await sandbox.GetOrderAsync("ORD-1001")).Body.GetProperty("refundedUsd").GetDecimal());
    }

    [Fact]
    public async Task Reason_longer_than_500_characters_is_422()
    {
        var reply = await sandbox.RefundAsync("ORD-1001", 1m, reason: new string('x', 501));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, reply.Status);
        Assert.Contains("reason must be 1 to 500 characters, not 501", reply.Detail);
    }

    [Fact]
    public async Task Refund_sent_as_a_form_is_415()
    {
        var reply = await sandbox.SendAsync(HttpMethod.Post, "/api/orders/ORD-1001/refunds", Credential.Payments,
            SandboxFixture.Form(("amountUsd", "10"), ("reason", "damaged")));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, reply.Status);
        Assert.Equal("unsupported_media_type", reply.Error);
    }

    [Fact]
    public async Task Unknown_order_is_404_for_reads_and_refunds()
    {
        var read = await sandbox.GetOrderAsync("ORD-9999");
        var refund = await sandbox.RefundAsync("ORD-9999", 1m);

        Assert.Equal(HttpStatusCode.NotFound, read.Status);
        Assert.Equal("order_not_found", read.Error);
        Assert.Equal(HttpStatusCode.NotFound, refund.Status);
        Assert.Equal("order_not_found", refund.Error);
    }

    [Fact]
    public async Task Order_id_of_the_wrong_shape_is_422_naming_the_pattern()
    {
        var reply = await sandbox.GetOrderAsync("1001");

        Assert.Equal(HttpStatusCode.UnprocessableEntity, reply.Status);
        Assert.Contains("ORD- and 4 to 10 digits", reply.Detail);
    }

    [Theory]
    [InlineData(Credential.None)]
    [InlineData(Credential.Wrong)]
    [InlineData(Credential.Ticketing)]
    public async Task Payments_without_the_payments_key_is_401_and_refunds_nothing(Credential credential)
    {
        var refund = await sandbox.SendAsync(HttpMethod.Post, "/api/orders/ORD-1001/refunds", credential,
            SandboxFixture.Json("""{"amountUsd":10,"reason":"damaged"}"""));
        var read = await sandbox.SendAsync(HttpMethod.Get, "/api/orders/ORD-1001", credential);

        Assert.Equal(HttpStatusCode.Unauthorized, refund.Status);
        Assert.Equal("unauthorized", refund.Error);
        Assert.Equal(HttpStatusCode.Unauthorized, read.Status);
        Assert.Equal(0m, (await sandbox.GetOrderAsync("ORD-1001")).Body.GetProperty("refundedUsd").GetDecimal());
    }

    [Fact]
    public async Task Cancelling_a_refund_restores_the_refundable_amount_once()
    {
        await sandbox.RefundAsync("ORD-1002", 80m);

        var cancelled = await sandbox.SendAsync(HttpMethod.Post, "/api/refunds/RF-000001/cancel", Credential.Payments);
        var again = await sandbox.SendAsync(HttpMethod.Post, "/api/refunds/RF-000001/cancel", Credential.Payments);

        Assert.Equal(HttpStatusCode.OK, cancelled.Status);
        Assert.Equal("cancelled", cancelled.Body.GetProperty("status").GetString());
        Assert.True(cancelled.Body.TryGetProperty("cancelledAt", out _));
        Assert.Equal(HttpStatusCode.Conflict, again.Status);
        Assert.Equal("already_cancelled", again.Error);
        var order = await sandbox.GetOrderAsync("ORD-1002");
        Assert.Equal(0m, order.Body.GetProperty("refundedUsd").GetDecimal());
        Assert.Equal("paid", order.Body.GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.Created, (await sandbox.RefundAsync("ORD-1002", 80m)).Status);
    }

    [Fact]
    public async Task Cancelling_an_unknown_refund_is_404()
    {
        var reply = await sandbox.SendAsync(HttpMethod.Post, "/api/refunds/RF-000404/cancel", Credential.Payments);

        Assert.Equal(HttpStatusCode.NotFound, reply.Status);
        Assert.Equal("refund_not_found", reply.Error);
    }
}
