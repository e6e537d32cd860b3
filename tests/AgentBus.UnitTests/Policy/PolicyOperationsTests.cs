using AgentBus.Policy.Engine;

namespace AgentBus.UnitTests.Policy;

/// <summary>Policies that grant catalog operations: the shipped catalog (ops/catalog) under policies written here.</summary>
public sealed class PolicyOperationsTests : IDisposable
{
    readonly string _folder = Directory.CreateTempSubdirectory("agentbus-policy-ops-").FullName;
    static readonly string Catalog = System.IO.Path.Combine(RepoRoot.Path, "ops", "catalog");

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    PolicyLoadResult Load(string body, string? catalog = null)
    {
        var file = System.IO.Path.Combine(_folder, "policy.yaml");
        File.WriteAllText(file, $"agents: [{{id: a, team: t}}, {{id: b, team: t}}]\ncatalog: {catalog ?? Catalog}\n{body}");
        return PolicyLoader.LoadFile(file);
    }

    [Fact]
    public void A_grant_without_operations_covers_every_operation_of_the_tool_and_each_reserves_its_own_cost()
    {
        var policy = Load("grants: [{id: g, agent: a, tool: payments}]").Policy!;

        Assert.Equal(["cancel_refund", "get_order", "refund"], policy.Grants.Keys.Where(k => k.Agent == "a").Select(k => k.Operation).Order());
        Assert.Equal(0.001m, policy.Grants[("a", "payments", "get_order")].Terms.EstimatedCostUsd);
        Assert.Equal(0.01m, policy.Grants[("a", "payments", "refund")].Terms.EstimatedCostUsd);
    }

    [Fact]
    public void An_operation_limit_applies_to_that_operation_only_and_names_its_rule()
    {
        var policy = Load("""
            grants: [{id: g, agent: a, tool: payments}]
            limits:
              tools: { payments: { callsPerMinute: 30 } }
              operations: { payments.refund: { callsPerMinute: 2 } }
            """).Policy!;

        var refund = policy.Grants[("a", "payments", "refund")].Terms;
        Assert.Equal(new RuleLimit<int>(2, "limits.operations.payments.refund.callsPerMinute"), refund.OperationCallsPerMinute);
        Assert.Equal(30, refund.ToolCallsPerMinute!.Value);
        Assert.Null(policy.Grants[("a", "payments", "get_order")].Terms.OperationCallsPerMinute);
    }

    [Fact]
    public void A_limit_on_an_operation_the_catalog_lacks_is_refused_with_its_line()
    {
        var result = Load("""
            grants: [{id: g, agent: a, tool: payments}]
            limits:
              operations:
                payments.wire_transfer: { callsPerMinute: 2 }
            """);

        Assert.Null(result.Policy);
        Assert.Contains(result.Errors, e => e.Contains(":6:") && e.Contains("'payments.wire_transfer', which is not an operation of the catalog"));
    }

    [Fact]
    public void A_grant_naming_an_operation_the_tool_lacks_is_refused_listing_the_ones_it_has()
    {
        var result = Load("grants: [{id: g, agent: a, tool: payments, operations: [refund, wire_transfer]}]");

        Assert.Null(result.Policy);
        Assert.Contains(result.Errors, e => e.Contains("names operation 'wire_transfer'") && e.Contains("cancel_refund, get_order, refund"));
    }

    [Fact]
    public void Two_grants_of_one_agent_covering_one_operation_are_refused()
    {
        var result = Load("""
            grants:
              - {id: lookups, agent: a, tool: payments, operations: [get_order]}
              - {id: everything, agent: a, tool: payments}
            """);

        Assert.Null(result.Policy);
        Assert.Contains(result.Errors, e => e.Contains("two grants covering operation 'payments.get_order' ('lookups' and 'everything')"));
    }

    [Fact]
    public void Who_can_move_money_names_the_refund_and_its_undo_and_not_the_order_lookup()
    {
        var policy = PolicyLoader.LoadFile(System.IO.Path.Combine(RepoRoot.Path, "ops", "policies", "policy.yaml")).Policy!;

        var (rows, error, _) = WhoCan.Query(policy, "money.move");

        Assert.Null(error);
        Assert.Equal([("support-bot", "payments", "refund", "support-bot-refunds"), ("undo-bot", "payments", "cancel_refund", "undo-bot-refunds")],
            rows.Select(row => (row.Agent, row.Tool, row.Operation, row.Grant)));
        Assert.Equal(["desk-assistant-lookups", "support-bot-order-lookup"], WhoCan.Query(policy, "payments.get_order").Rows.Select(r => r.Grant));
    }

    [Fact]
    public void Editing_a_catalog_file_is_a_new_policy_version()
    {
        var catalog = System.IO.Path.Combine(_folder, "catalog");
        Directory.CreateDirectory(catalog);
        File.Copy(System.IO.Path.Combine(Catalog, "payments.yaml"), System.IO.Path.Combine(catalog, "payments.yaml"));
        var before = Load("grants: [{id: g, agent: a, tool: payments}]", catalog).Policy!.Version;

        File.AppendAllText(System.IO.Path.Combine(catalog, "payments.yaml"), "\n# reviewed again\n");
        var after = Load("grants: [{id: g, agent: a, tool: payments}]", catalog).Policy!.Version;

        Assert.NotEqual(before, after);
    }
}
