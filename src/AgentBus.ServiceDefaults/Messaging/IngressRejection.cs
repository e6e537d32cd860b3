namespace AgentBus.ServiceDefaults.Messaging;

/// <summary>
/// Why a message from an agent could not be read. Attached to the receive context instead of
/// thrown, so the consumer can answer the agent with a reason code; the identifiers are whatever
/// could still be read, for the agent to correlate the answer.
/// </summary>
public sealed record IngressRejection(
    string ReasonCode,
    string Detail,
    string? ActionId = null,
    string? RunId = null,
    string? Tool = null);
