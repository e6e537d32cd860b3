namespace AgentBus.Policy.Engine;

/// <summary>The policy file as written (YAML); see ops/policies/README.md for the format.</summary>
public sealed class PolicyDocument
{
    public List<AgentEntry> Agents { get; set; } = [];
    public List<ToolEntry> Tools { get; set; } = [];
    public List<GrantEntry> Grants { get; set; } = [];

    public sealed class AgentEntry
    {
        public string Id { get; set; } = "";
        public string Team { get; set; } = "";
    }

    public sealed class ToolEntry
    {
        public string Name { get; set; } = "";
    }

    public sealed class GrantEntry
    {
        public string Id { get; set; } = "";
        public string Agent { get; set; } = "";
        public string Tool { get; set; } = "";
    }
}
