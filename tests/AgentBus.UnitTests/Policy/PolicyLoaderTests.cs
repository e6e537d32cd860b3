using AgentBus.Policy.Engine;

namespace AgentBus.UnitTests.Policy;

public class PolicyLoaderTests
{
    [Fact]
    public void A_yaml_syntax_error_names_the_file_and_line()
    {
        var result = PolicyLoader.Parse("agents:\n  - id: a\n    team: [unclosed\n", "p.yaml");
        Assert.Null(result.Policy);
        Assert.Matches(@"^p\.yaml:\d+: ", Assert.Single(result.Errors));
    }

    [Fact]
    public void An_unknown_key_is_an_error_not_silently_ignored()
    {
        var result = PolicyLoader.Parse("agents:\n  - id: a\n    tema: support\n", "p.yaml");
        Assert.Null(result.Policy);
        Assert.Contains("p.yaml:3:", Assert.Single(result.Errors));
    }

    [Theory]
    [InlineData("agents: [{id: a}, {id: a}]", "defined twice")]
    [InlineData("agents: [{id: Bad Name}]", "not valid")]
    [InlineData("agents: [{id: agentbus-policy}]", "reserved")]
    [InlineData("tools: [{name: t}]\ngrants: [{id: g, agent: nobody, tool: t}]", "unknown agent 'nobody'")]
    [InlineData("agents: [{id: a}]\ngrants: [{id: g, agent: a, tool: nothing}]", "unknown tool 'nothing'")]
    public void Semantic_errors_are_reported(string yaml, string expected)
    {
        var result = PolicyLoader.Parse(yaml, "p.yaml");
        Assert.Null(result.Policy);
        Assert.Contains(result.Errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void The_version_is_a_content_hash()
    {
        var a = PolicyLoader.Parse("agents: [{id: a}]", "p.yaml").Policy!;
        var b = PolicyLoader.Parse("agents: [{id: a}]", "q.yaml").Policy!;
        var c = PolicyLoader.Parse("agents: [{id: b}]", "p.yaml").Policy!;
        Assert.Equal(a.Version, b.Version);
        Assert.NotEqual(a.Version, c.Version);
    }

    [Fact]
    public void The_shipped_policy_loads()
    {
        var path = Path.Combine(RepoRoot.Path, "ops", "policies", "policy.yaml");
        var result = PolicyLoader.LoadFile(path);
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
    }
}
