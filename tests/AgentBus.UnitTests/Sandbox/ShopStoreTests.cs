using System.Text.Json;
using AgentBus.SandboxApi.Shop;

namespace AgentBus.UnitTests.Sandbox;

/// <summary>The shop's rules with no HTTP in between.</summary>
public sealed class ShopStoreTests
{
    readonly ShopStore _shop = new(TimeProvider.System);

    static RefundRequest Refund(decimal amountUsd) => new(amountUsd, "damaged");

    [Fact]
    public async Task Concurrent_refunds_never_exceed_what_was_paid()
    {
        // ORD-1001 paid 250.00: of 40 refunds of 10.00 racing each other, exactly 25 may succeed.
        var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => Task.Run(() => _shop.RefundOrder("ORD-1001", Refund(10m), null))));

        Assert.Equal(25, results.Count(r => r.Status == 201));
        Assert.Equal(15, results.Count(r => r.Status == 409));
        Assert.Equal(250m, ((Order)_shop.GetOrder("ORD-1001").Body).RefundedUsd);
    }

    [Fact]
    public async Task Concurrent_calls_with_one_idempotency_key_refund_once()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(() => _shop.RefundOrder("ORD-1003", Refund(100m), "key"))));

        Assert.Single(results, r => r.Status == 201);
        Assert.All(results, r => Assert.Equal("RF-000001", r.Reference));
        Assert.Equal(100m, ((Order)_shop.GetOrder("ORD-1003").Body).RefundedUsd);
    }

    [Fact]
    public void Replay_of_a_cancelled_refund_shows_it_cancelled_and_refunds_nothing()
    {
        _shop.RefundOrder("ORD-1002", Refund(80m), "key");
        _shop.CancelRefund("RF-000001");

        var replay = _shop.RefundOrder("ORD-1002", Refund(80m), "key");

        Assert.True(replay.Replayed);
        Assert.Equal("cancelled", ((Refund)replay.Body).Status);
        Assert.Equal(0m, ((Order)_shop.GetOrder("ORD-1002").Body).RefundedUsd);
    }

    [Fact]
    public void Same_key_for_different_operations_does_not_collide()
    {
        var refund = _shop.RefundOrder("ORD-1001", Refund(1m), "key");
        var ticket = _shop.CreateTicket(new("Lost", null, "low", null), "key");

        Assert.Equal(201, refund.Status);
        Assert.Equal(201, ticket.Status);
    }

    [Fact]
    public void Reset_restores_the_seed()
    {
        _shop.RefundOrder("ORD-1001", Refund(250m), null);
        _shop.CreateTicket(new("Lost", null, "low", null), null);

        _shop.Reset();

        Assert.Equal(ShopStore.SeedOrders, ShopStore.SeedOrders.Select(o => (Order)_shop.GetOrder(o.OrderId).Body));
        Assert.Equal(404, _shop.GetTicket("TCK-000001").Status);
        Assert.Equal("RF-000001", _shop.RefundOrder("ORD-1001", Refund(1m), null).Reference);
    }

    [Fact]
    public void A_reset_that_keeps_numbering_never_reuses_an_id_so_a_late_call_cannot_touch_what_came_after()
    {
        _shop.RefundOrder("ORD-1001", Refund(250m), null);

        _shop.Reset(restartIds: false);

        Assert.Equal(ShopStore.SeedOrders, ShopStore.SeedOrders.Select(o => (Order)_shop.GetOrder(o.OrderId).Body));
        Assert.Equal(404, _shop.CancelRefund("RF-000001").Status);
        Assert.Equal("RF-000002", _shop.RefundOrder("ORD-1001", Refund(1m), null).Reference);
    }

    [Theory]
    [InlineData("12.5", "12.50")]
    [InlineData("12.500", "12.50")]
    [InlineData("1e1", "10.00")]
    [InlineData("0.01", "0.01")]
    public void Amount_is_kept_in_whole_cents_whatever_way_it_was_written(string written, string kept)
    {
        var request = ShopRequests.Refund(JsonDocument.Parse($$"""{"amountUsd":{{written}},"reason":"x"}""").RootElement);

        Assert.Equal(kept, request.AmountUsd.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("ORD-1001", true)]
    [InlineData("ORD-1234567890", true)]
    [InlineData("ORD-123", false)]
    [InlineData("ORD-12345678901", false)]
    [InlineData("ord-1001", false)]
    [InlineData("ORD-1001\n", false)]
    [InlineData(" ORD-1001", false)]
    public void Order_ids_follow_the_documented_pattern(string id, bool valid)
    {
        var problem = Record.Exception(() => ShopRequests.OrderId(id));

        Assert.Equal(valid, problem is null);
        if (!valid)
            Assert.IsType<InvalidShopRequestException>(problem);
    }
}
