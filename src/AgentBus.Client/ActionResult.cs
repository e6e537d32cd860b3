using AgentBus.Contracts;

namespace AgentBus.Client;

/// <summary>What became of one proposal: the decision and, when it ran, the outcome.</summary>
public sealed record ActionResult(string ActionId, ActionDecided Decision, ActionSucceeded? Succeeded = null, ActionFailed? Failed = null)
{
    public bool Completed => Succeeded is not null || Failed is not null || Decision.Decision == Contracts.Decision.Denied;
}
