using AgentBus.Audit.Gates;
using AgentBus.Policy.Engine;

namespace AgentBus.Operations.Gates;

/// <summary>The policy's grants as the gates count them, for `agentbus gates` and the console alike.</summary>
public static class GateGrants
{
    /// <summary>A grant with an approval rule counts as gated even when its condition spares small actions.</summary>
    public static IReadOnlyList<GrantInfo> Of(PolicySnapshot policy) =>
        policy.Grants.Values.Select(g => new GrantInfo(g.Agent, g.Tool, RequiresApproval: g.Approval is not null)).ToList();
}
