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
        var error = Assert.Single(result.Errors);
        Assert.StartsWith("p.yaml:3:", error);
        Assert.Contains("tema", error);
    }

    [Fact]
    public void A_value_of_the_wrong_type_names_its_line()
    {
        var result = PolicyLoader.Parse("tools:\n  - name: t\n    unitCostUsd: cheap\n", "p.yaml");
        Assert.StartsWith("p.yaml:3:", Assert.Single(result.Errors));
    }

    [Theory]
    [InlineData("agents: [{id: a}, {id: a}]", 1, "defined twice")]
    [InlineData("agents: [{id: Bad Name}]", 1, "not valid")]
    [InlineData("agents: [{id: agentbus-policy}]", 1, "reserved")]
    [InlineData("agents:\n  - id: a\n    status: paused", 2, "status 'paused'")]
    [InlineData("tools:\n  - name: t\n    capabilities: [money.mvoe]", 2, "unknown capability 'money.mvoe'")]
    [InlineData("tools:\n  - name: t\n    risk: extreme", 2, "risk 'extreme'")]
    [InlineData("tools:\n  - name: t\n    unitCostUsd: -1", 2, "negative unitCostUsd")]
    [InlineData("tools:\n  - name: t\n    arguments: { type: 12 }", 2, "not a valid JSON Schema")]
    [InlineData("tools:\n  - name: t\n    destinations:\n      urlPrefixes: [http://x/]", 4, "destinations.from")]
    [InlineData("tools:\n  - name: t\n    destinations:\n      from: [url]", 4, "must start with '/'")]
    [InlineData("tools:\n  - name: t\n    destinations:\n      from: [/url]\n      urlPrefixes: [not a url]", 4, "URL prefix 'not a url'")]
    [InlineData("tools:\n  - name: t\n    destinations:\n      from: [/url]\n      hosts: [http://x]", 4, "host 'http://x'")]
    [InlineData("tools:\n  - name: t\n    destinations:\n      from: [/c]\n      channels: ['#a*b']", 4, "may only end with '*'")]
    [InlineData("tools: [{name: t}]\ngrants:\n  - {id: g, agent: nobody, tool: t}", 3, "unknown agent 'nobody'")]
    [InlineData("agents: [{id: a}]\ngrants:\n  - {id: g, agent: a, tool: nothing}", 3, "unknown tool 'nothing'")]
    [InlineData("agents: [{id: a}]\ntools: [{name: t}]\ngrants:\n  - {id: g, agent: a, tool: t}\n  - {id: h, agent: a, tool: t}", 5, "two grants")]
    [InlineData("agents: [{id: a}, {id: b}]\ntools: [{name: t}]\ngrants:\n  - {id: g, agent: a, tool: t}\n  - {id: g, agent: b, tool: t}", 5, "used twice")]
    [InlineData("agents: [{id: a}]\ntools: [{name: t}]\ngrants:\n  - id: g\n    agent: a\n    tool: t\n    constraints:\n      - argument: /x", 8, "tests nothing")]
    [InlineData("agents: [{id: a}]\ntools: [{name: t}]\ngrants:\n  - id: g\n    agent: a\n    tool: t\n    constraints:\n      - {argument: /x, min: 5, max: 1}", 8, "min 5 is above max 1")]
    [InlineData("agents: [{id: a}]\ntools: [{name: t}]\ngrants:\n  - id: g\n    agent: a\n    tool: t\n    constraints:\n      - {argument: /x, pattern: '(a)\\1'}", 8, "not a supported regular expression")]
    [InlineData("agents: [{id: a}]\ntools: [{name: t}]\ngrants:\n  - id: g\n    agent: a\n    tool: t\n    destinations:\n      hosts: [x]", 8, "declares no destinations.from")]
    [InlineData("agents: [{id: a}]\ntools: [{name: t}]\ngrants:\n  - id: g\n    agent: a\n    tool: t\n    approval:\n      approvers: 0\n      group: g", 8, "approvers must be at least 1")]
    [InlineData("agents: [{id: a}]\ntools: [{name: t}]\ngrants:\n  - id: g\n    agent: a\n    tool: t\n    approval:\n      group: ''", 8, "needs a group")]
    [InlineData("agents: [{id: a}]\ntools: [{name: t}]\ngrants:\n  - id: g\n    agent: a\n    tool: t\n    approval:\n      group: g\n      expires: forever", 8, "approval.expires 'forever'")]
    [InlineData("agents: [{id: a}]\nlimits:\n  agents:\n    ghost: {callsPerMinute: 5}", 4, "unknown agent 'ghost'")]
    [InlineData("agents: [{id: a}]\nlimits:\n  tools:\n    ghost: {callsPerMinute: 5}", 4, "unknown tool 'ghost'")]
    [InlineData("agents: [{id: a}]\nlimits:\n  default:\n    callsPerMinute: 0", 4, "at least 1")]
    [InlineData("agents: [{id: a}]\nlimits:\n  default:\n    run:\n      maxDuration: soon", 5, "maxDuration 'soon'")]
    [InlineData("agents: [{id: a}]\nbudgets:\n  agents:\n    a: {perDayUsd: -5}", 4, "must not be negative")]
    [InlineData("agents: [{id: a}]\nbudgets:\n  agents:\n    ghost: {perDayUsd: 5}", 4, "unknown agent 'ghost'")]
    [InlineData("agents:\n  - id: a\n    owner: Not A Person", 2, "owner 'Not A Person' is not a valid person name")]
    [InlineData("teams:\n  - id: t\n    members: [ok, 'bad name']", 2, "member 'bad name' is not a valid person name")]
    [InlineData("teams:\n  - {id: t}\n  - {id: t}", 3, "team 't' is defined twice")]
    [InlineData("agents: [{id: a}]\ntools: [{name: t}]\ngrants:\n  - id: g\n    agent: a\n    tool: t\n    approval:\n      group: g\n      escalate: {after: 5m}", 9, "escalate needs a group")]
    [InlineData("agents: [{id: a}]\ntools: [{name: t}]\ngrants:\n  - id: g\n    agent: a\n    tool: t\n    approval:\n      group: g\n      escalate: {group: g, after: 5m}", 9, "name a second group")]
    [InlineData("agents: [{id: a}]\ntools: [{name: t}]\ngrants:\n  - id: g\n    agent: a\n    tool: t\n    approval:\n      group: g\n      expires: 1h\n      escalate: {group: leads, after: 2h}", 10, "shorter than approval.expires")]
    public void Semantic_errors_name_the_file_and_line(string yaml, int line, string expected)
    {
        var result = PolicyLoader.Parse(yaml, "p.yaml");
        Assert.Null(result.Policy);
        Assert.Contains(result.Errors, e => e.StartsWith($"p.yaml:{line}: ", StringComparison.Ordinal) && e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Every_problem_is_reported_at_once()
    {
        var result = PolicyLoader.Parse("agents: [{id: a}, {id: a}]\ntools: [{name: t, risk: extreme}]\ngrants: [{id: g, agent: b, tool: t}]", "p.yaml");
        Assert.Equal(3, result.Errors.Count);
    }

    [Fact]
    public void The_version_is_a_content_hash()
    {
        var a = PolicyLoader.Parse("agents: [{id: a}]", "p.yaml").Policy!;
        var b = PolicyLoader.Parse("agents: [{id: a}]", "q.yaml").Policy!;
        var c = PolicyLoader.Parse("agents: [{id: b}]", "p.yaml").Policy!;
        Assert.Equal(a.Version, b.Version);
        Assert.NotEqual(a.Version, c.Version);
        Assert.StartsWith("sha256:", a.Version);
    }

    [Fact]
    public void A_schema_in_yaml_keeps_numbers_booleans_and_quoted_strings_apart()
    {
        var policy = PolicyLoader.Parse("""
            tools:
              - name: t
                arguments:
                  type: object
                  additionalProperties: false
                  properties:
                    n: { type: number, maximum: 10 }
                    s: { const: "10" }
            """, "p.yaml").Policy!;
        var schema = policy.Tools["t"].ArgumentSchemaJson!;
        Assert.Equal(System.Text.Json.JsonValueKind.False, System.Text.Json.JsonSerializer.SerializeToElement(schema["additionalProperties"]).ValueKind);
        Assert.Equal(System.Text.Json.JsonValueKind.Number, System.Text.Json.JsonSerializer.SerializeToElement(schema["properties"]!["n"]!["maximum"]).ValueKind);
        Assert.Equal(System.Text.Json.JsonValueKind.String, System.Text.Json.JsonSerializer.SerializeToElement(schema["properties"]!["s"]!["const"]).ValueKind);
    }

    [Fact]
    public void The_old_minimal_format_still_loads_with_safe_defaults()
    {
        var policy = PolicyLoader.Parse("agents: [{id: a, team: t}]\ntools: [{name: x}]\ngrants: [{id: g, agent: a, tool: x}]", "p.yaml").Policy!;
        var terms = policy.Grants[("a", "x", "")].Terms;
        Assert.Equal("medium", policy.Tools["x"].Risk);
        Assert.Equal(0m, terms.EstimatedCostUsd);
        Assert.Null(terms.PerDayUsd);
        Assert.Null(terms.AgentCallsPerMinute);
    }

    [Fact]
    public void An_approval_names_the_requester_the_owning_team_and_the_escalation()
    {
        var policy = PolicyLoader.Parse("""
            agents:
              - { id: a, team: support, owner: Sam }
              - { id: b, team: support }
              - { id: c, team: nobody-listed, owner: carl }
            teams:
              - { id: support, members: [sam, Tina, tina] }
            tools: [{ name: t }]
            grants:
              - id: ga
                agent: a
                tool: t
                approval: { group: finance, approvers: 2, expires: 1h, escalate: { group: leads, after: 30m } }
              - id: gb
                agent: b
                tool: t
                approval: { group: finance }
              - id: gc
                agent: c
                tool: t
                approval: { group: finance }
            """, "p.yaml").Policy!;

        var a = policy.Grants[("a", "t", "")].Approval!;
        Assert.Equal(("sam", "support"), (a.RequestedBy, a.AgentTeam));
        Assert.Equal(["sam", "tina"], a.ExcludedApprovers);
        Assert.Equal(("leads", TimeSpan.FromMinutes(30)), (a.EscalationGroup, a.EscalationDelay));
        Assert.Contains("after 30m 'leads' may approve too", a.Reason);
        Assert.Equal(["sam", "tina"], policy.Teams["support"]);

        // No owner: the agent itself is the requester, and its team still may not approve.
        var b = policy.Grants[("b", "t", "")].Approval!;
        Assert.Equal("b", b.RequestedBy);
        Assert.Equal(["sam", "tina"], b.ExcludedApprovers);
        Assert.Null(b.EscalationGroup);
        Assert.Empty(policy.Grants[("c", "t", "")].Approval!.ExcludedApprovers);
    }

    [Fact]
    public void An_approval_that_would_let_the_agents_team_approve_is_refused()
    {
        var result = PolicyLoader.Parse("""
            agents: [{ id: b, team: support }]
            teams: [{ id: support, members: [tina] }]
            tools: [{ name: t }]
            grants: [{ id: gb, agent: b, tool: t, approval: { group: finance, excludeTeam: false } }]
            """, "p.yaml");

        Assert.Null(result.Policy);
        Assert.Contains(result.Errors, e => e.Contains("excludeTeam: false is not allowed"));
    }

    [Theory]
    [InlineData("90s", 90)]
    [InlineData("30m", 1800)]
    [InlineData("1h", 3600)]
    [InlineData("2d", 172800)]
    [InlineData("01:30:00", 5400)]
    public void Durations_parse(string text, int seconds)
    {
        Assert.True(PolicyLoader.TryParseDuration(text, out var duration));
        Assert.Equal(TimeSpan.FromSeconds(seconds), duration);
    }

    [Theory]
    [InlineData("ops/policies/policy.yaml")]
    [InlineData("ops/policies/examples/finance.yaml")]
    [InlineData("ops/policies/examples/platform.yaml")]
    public void The_shipped_policies_load(string file)
    {
        var result = PolicyLoader.LoadFile(Path.Combine(RepoRoot.Path, file));
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
    }

    [Fact]
    public void The_shipped_policy_passes_its_own_cases()
    {
        var policy = PolicyLoader.LoadFile(Path.Combine(RepoRoot.Path, "ops/policies/policy.yaml")).Policy!;
        var path = Path.Combine(RepoRoot.Path, "ops/policies/policy.cases.yaml");
        var (cases, errors) = PolicyCases.Load(File.ReadAllText(path), path);
        Assert.True(cases is not null, string.Join("\n", errors));
        var failed = cases!.Run(policy, DateTimeOffset.UtcNow).Where(r => !r.Passed).Select(r => $"{r.Case.Name}: got {r.Actual} {r.ActualRule} ({r.Reason})");
        Assert.Empty(failed);
    }
}
