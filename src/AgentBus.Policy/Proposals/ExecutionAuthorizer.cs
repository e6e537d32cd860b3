using AgentBus.Contracts;
using AgentBus.ServiceDefaults.Json;

namespace AgentBus.Policy.Proposals;

/// <summary>
/// Turns an allowed proposal into the one command an executor will accept for it. The only place
/// that creates ExecuteTool, so everything an executor checks is bound here.
/// </summary>
public sealed class ExecutionAuthorizer(TimeProvider clock)
{
    public ExecuteTool Authorize(ActionProposed proposal) =>
        new(proposal.ActionId, proposal.RunId, proposal.AgentId, proposal.Tool, proposal.Arguments,
            CanonicalJson.Hash(proposal.Arguments), proposal.IdempotencyKey, clock.GetUtcNow());
}
