using AgentBus.Contracts;
using AgentBus.Policy.Engine;

namespace AgentBus.UnitTests.Mcp;

/// <summary>What the shipped policy offers each agent: the gateway's tools/list, `tools list --agent` and the clients' functions.</summary>
public sealed class OperationOffersTests
{
    static readonly PolicySnapshot Shipped =
        PolicyLoader.LoadFile(Path.Combine(RepoRoot.Path, "ops", "policies", "policy.yaml")).Policy ?? throw new InvalidOperationException("the shipped policy does not load");

    [Fact]
    public void An_agent_is_offered_exactly_its_granted_operations_under_model_safe_names()
    {
        var offer = OperationOffers.For(Shipped, "support-bot")!;

        Assert.Equal(["payments_get_order", "payments_refund", "ticketing_comment", "ticketing_create_ticket", "ticketing_get_ticket"],
            offer.Operations.Select(o => o.Name));
        Assert.All(offer.Operations, o => Assert.Matches("^[A-Za-z0-9_-]{1,64}$", o.Name));
        Assert.Equal(Shipped.Version, offer.PolicyVersion);
        Assert.Equal(["ticketing_comment"], OperationOffers.For(Shipped, "intern-bot")!.Operations.Select(o => o.Name));
        Assert.Null(OperationOffers.For(Shipped, "nobody-bot"));
    }

    [Fact]
    public void Hints_come_from_the_catalog_and_a_money_moving_write_is_destructive()
    {
        var offered = OperationOffers.For(Shipped, "support-bot")!.Operations.ToDictionary(o => o.Name);

        Assert.True(offered["payments_get_order"].ReadOnly);
        Assert.False(offered["payments_get_order"].Destructive);
        Assert.True(offered["payments_refund"].Destructive);
        Assert.True(offered["payments_refund"].Idempotent);
        Assert.Equal("payments.refund", offered["payments_refund"].Title);
        Assert.Equal("object", offered["payments_refund"].InputSchema.GetProperty("type").GetString());
    }

    [Fact]
    public void An_operation_that_needs_approval_says_when_and_by_whom()
    {
        var refund = OperationOffers.For(Shipped, "support-bot")!.Operations.Single(o => o.Name == "payments_refund");

        Assert.Contains("payments-approvers", refund.Approval);
        Assert.Contains("/amountUsd > 100", refund.Approval);
        Assert.Null(OperationOffers.For(Shipped, "support-bot")!.Operations.Single(o => o.Name == "payments_get_order").Approval);
    }

    [Theory]
    [InlineData("payments", "refund", "payments_refund")]
    [InlineData("a.b", "c", "a_b_c")]
    [InlineData("shop", "get order", "shop_get_order")]
    public void Model_names_replace_what_model_apis_refuse(string tool, string operation, string name)
    {
        Assert.Equal(name, OperationNames.ForModel(tool, operation));
        Assert.Equal(64, OperationNames.ForModel(new string('t', 60), new string('o', 60)).Length);
    }

    [Fact]
    public void Every_catalog_operation_is_found_by_its_model_name_granted_or_not()
    {
        var all = OperationOffers.ByModelName(Shipped);

        Assert.Equal("payments.cancel_refund", all["payments_cancel_refund"].FullName);
        Assert.Equal(Shipped.Catalog.Operations.Count(), all.Count);
    }
}
