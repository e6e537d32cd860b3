using System.Text.Json;

namespace AgentBus.Contracts;

/// <summary>
/// An operator changed something: suspended or resumed an agent or tool, replayed or purged dead
/// letters. Recorded in the audit with who did it. <see cref="Action"/> is dotted, e.g.
/// "agent.suspend", "tool.resume", "dlq.replay", "dlq.purge".
/// </summary>
public sealed record OperatorActionTaken(
    string Operator,
    string Action,
    string Target,
    string? Reason,
    JsonElement Details,
    DateTimeOffset TakenAt);
