namespace AgentBus.Policy.Engine;

/// <summary>A loaded, checked policy, immutable so evaluation needs no locks.</summary>
public sealed class PolicySnapshot
{
    public required string Version { get; init; }
    public required string Source { get; init; }
    public required IReadOnlyDictionary<string, PolicyDocument.AgentEntry> Agents { get; init; }
    public required IReadOnlyDictionary<string, PolicyDocument.ToolEntry> Tools { get; init; }
    public required IReadOnlyDictionary<(string Agent, string Tool), PolicyDocument.GrantEntry> Grants { get; init; }
}
