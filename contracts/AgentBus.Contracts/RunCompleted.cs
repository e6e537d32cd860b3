namespace AgentBus.Contracts;

/// <summary>An agent says a run is over and whether it achieved what it was for.</summary>
public sealed record RunCompleted(
    string RunId,
    string AgentId,
    bool Succeeded,
    string? Summary = null);
