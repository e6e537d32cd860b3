namespace AgentBus.ServiceDefaults.Messaging;

/// <summary>
/// The approval id (the approval saga's correlation id) for one agent's action: derived, so a
/// redelivered or re-proposed action asks for the same approval instead of opening a second one.
/// </summary>
public static class ApprovalIds
{
    public static Guid For(string agentId, string actionId) => MessageIds.For($"{agentId}:{actionId}", "Approval");
}
