using AgentBus.Contracts;
using AgentBus.Policy.Engine;
using AgentBus.ServiceDefaults.Json;
using AgentBus.ServiceDefaults.Security;
using Microsoft.Extensions.Options;

namespace AgentBus.Policy.Proposals;

/// <summary>
/// Turns an allowed proposal into the one command an executor will accept for it. The only place
/// that creates ExecuteTool, and the only holder of the signing key, so everything an executor
/// checks is bound and signed here.
/// </summary>
public sealed class ExecutionAuthorizer(AuthorizationSigner signer, IOptions<SigningOptions> options, TimeProvider clock)
{
    /// <param name="policy">The policy in force: the agent's <c>receives</c> becomes the command's result clearance (none without a policy).</param>
    /// <param name="approvalId">The approval this execution rests on, when a human granted it.</param>
    /// <param name="allowance">The decision, when the command stands in for it (see <see cref="ExecuteTool.Allowance"/>).</param>
    public ExecuteTool Authorize(ActionProposed proposal, PolicySnapshot? policy, string? approvalId = null, PolicyAllowance? allowance = null)
    {
        var now = clock.GetUtcNow();
        var clearance = policy?.Agents.GetValueOrDefault(proposal.AgentId)?.Receives ?? [];
        var command = new ExecuteTool(proposal.ActionId, proposal.RunId, proposal.AgentId, proposal.Tool, proposal.Arguments,
            CanonicalJson.Hash(proposal.Arguments), proposal.IdempotencyKey, now, Authorization: null!, proposal.Operation, clearance, allowance);
        return command with { Authorization = signer.Sign(command, approvalId, now + options.Value.Lifetime) };
    }
}
