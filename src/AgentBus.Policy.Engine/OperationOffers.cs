using System.Text.Json;
using AgentBus.Catalog;
using AgentBus.Contracts;

namespace AgentBus.Policy.Engine;

/// <summary>
/// The catalog as a model acting as one agent is offered it: exactly the operations the policy grants
/// that agent, under the names models accept. The MCP gateway lists these, `agentbus tools list
/// --agent` prints them, and the clients turn them into functions, so all three agree.
/// </summary>
public static class OperationOffers
{
    static readonly HashSet<string> DestructiveCapabilities = ["money.move", "data.delete", "code.deploy"];

    /// <summary>Null when the policy names no such agent.</summary>
    public static OperationsOffer? For(PolicySnapshot policy, string agentId)
    {
        if (!policy.Agents.ContainsKey(agentId))
            return null;
        var offered = new List<OfferedOperation>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var grant in policy.Grants.Values
                     .Where(g => g.Agent == agentId && g.Operation is not null)
                     .OrderBy(g => g.Tool, StringComparer.Ordinal).ThenBy(g => g.Operation!.Name, StringComparer.Ordinal))
        {
            var operation = grant.Operation!;
            // Two operations whose model names collide (a.b_c and a_b.c): the first keeps the name and the
            // second is not offered, rather than a model calling one when it means the other.
            if (names.Add(OperationNames.ForModel(operation.Tool, operation.Name)))
                offered.Add(Offer(operation, grant.Approval));
        }
        return new OperationsOffer(agentId, policy.Version, offered);
    }

    /// <summary>The model-facing name of every operation in the catalog, for telling "not yours" apart from "no such thing".</summary>
    public static IReadOnlyDictionary<string, CatalogOperation> ByModelName(PolicySnapshot policy)
    {
        var byName = new Dictionary<string, CatalogOperation>(StringComparer.Ordinal);
        foreach (var operation in policy.Catalog.Operations.OrderBy(o => o.Tool, StringComparer.Ordinal).ThenBy(o => o.Name, StringComparer.Ordinal))
            byName.TryAdd(OperationNames.ForModel(operation.Tool, operation.Name), operation);
        return byName;
    }

    public static OfferedOperation Offer(CatalogOperation operation, ApprovalPolicy? approval) => new(
        OperationNames.ForModel(operation.Tool, operation.Name),
        operation.Tool,
        operation.Name,
        operation.FullName,
        operation.Description,
        JsonSerializer.SerializeToElement(operation.ArgumentSchemaJson),
        operation.ReadOnly,
        IsDestructive(operation),
        operation.Idempotent,
        operation.Risk,
        operation.Capabilities,
        approval is null ? null : $"{approval.Approvers} of '{approval.Group}' within {Durations.Format(approval.Expiry)} when {approval.DescribeCondition()}");

    public static bool IsDestructive(CatalogOperation operation) =>
        !operation.ReadOnly && (Capabilities.RiskRank(operation.Risk) >= Capabilities.RiskRank("high")
                                || operation.Capabilities.Any(DestructiveCapabilities.Contains)
                                || string.Equals(operation.Http?.Method, "DELETE", StringComparison.OrdinalIgnoreCase));
}
