using System.Text.Json;
using AgentBus.Catalog;

namespace AgentBus.UnitTests.Catalog;

/// <summary>The shipped catalog (ops/catalog) says for every operation that changes something how it is undone, or that it cannot be.</summary>
public class ShippedCompensationTests
{
    static readonly ToolCatalog Shipped = CatalogLoader.LoadDirectory(Path.Combine(RepoRoot.Path, "ops", "catalog")).Catalog!;

    static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();

    [Fact]
    public void Every_operation_that_changes_something_is_undone_by_one_or_declared_irreversible()
    {
        Assert.All(Shipped.Operations.Where(o => !o.ReadOnly), o =>
            Assert.True(o.Compensation is not null ^ o.Irreversible, $"{o.FullName} declares neither a compensation nor irreversible."));
        Assert.All(Shipped.Operations.Where(o => o.Irreversible), o => Assert.False(string.IsNullOrWhiteSpace(o.IrreversibleReason)));
    }

    [Fact]
    public void A_refund_is_undone_by_cancelling_the_refund_the_shop_created()
    {
        var compensation = Shipped.Find("payments.refund")!.Compensation!;

        // The sandbox shop's answer to POST /orders/{orderId}/refunds, as the executor reports it.
        var built = compensation.Build(
            Json("""{"orderId": "ORD-1001", "amountUsd": 25.5, "reason": "damaged"}"""),
            Json("""{"status": 201, "body": {"refundId": "RF-000007", "orderId": "ORD-1001", "amountUsd": 25.5, "reason": "damaged", "status": "succeeded"}}"""));

        Assert.Equal("payments.cancel_refund", compensation.FullName);
        Assert.True(built.Succeeded, built.Error);
        Assert.Equal("""{"refundId":"RF-000007"}""", built.Arguments!.Value.GetRawText());
    }

    [Fact]
    public void A_ticket_is_undone_by_closing_it_as_wont_fix()
    {
        var compensation = Shipped.Find("ticketing.create_ticket")!.Compensation!;

        var built = compensation.Build(
            Json("""{"title": "Printer on fire", "priority": "urgent"}"""),
            Json("""{"status": 201, "body": {"ticketId": "TCK-000042", "title": "Printer on fire", "status": "open"}}"""));

        Assert.Equal("ticketing.close_ticket", compensation.FullName);
        Assert.True(built.Succeeded, built.Error);
        Assert.Equal("""{"ticketId":"TCK-000042","resolution":"wont_fix"}""", built.Arguments!.Value.GetRawText());
    }

    [Theory]
    [InlineData("ticketing.comment")]
    [InlineData("ticketing.close_ticket")]
    [InlineData("payments.cancel_refund")]
    public void Operations_nothing_in_the_catalog_undoes_are_irreversible(string name) =>
        Assert.True(Shipped.Find(name)!.Irreversible);
}
