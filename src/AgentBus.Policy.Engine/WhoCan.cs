namespace AgentBus.Policy.Engine;

/// <summary>One agent that can use a tool, and on what terms.</summary>
public sealed record WhoCanRow(
    string Agent,
    string Team,
    bool AgentSuspended,
    string Tool,
    string Risk,
    string Grant,
    IReadOnlyList<string> Constraints,
    string Destinations,
    string Approval,
    AdmissionTerms Terms);

/// <summary>"Which agents can move money?": every grant on a tool with a capability, or on one named tool.</summary>
public static class WhoCan
{
    public static (IReadOnlyList<WhoCanRow> Rows, string? Error, string Subject) Query(PolicySnapshot policy, string capabilityOrTool)
    {
        var byCapability = PolicyLoader.KnownCapabilities.Contains(capabilityOrTool);
        if (!byCapability && !policy.Tools.ContainsKey(capabilityOrTool))
            return ([], $"'{capabilityOrTool}' is neither a capability ({string.Join(", ", PolicyLoader.KnownCapabilities)}) nor a tool in the policy ({string.Join(", ", policy.Tools.Keys.Order())}).",
                capabilityOrTool);

        var rows = policy.Grants.Values
            .Where(g => byCapability ? policy.Tools[g.Tool].Capabilities.Contains(capabilityOrTool) : g.Tool == capabilityOrTool)
            .OrderBy(g => g.Agent, StringComparer.Ordinal).ThenBy(g => g.Tool, StringComparer.Ordinal)
            .Select(g =>
            {
                var agent = policy.Agents[g.Agent];
                var tool = policy.Tools[g.Tool];
                var destinations = tool.Destinations is null
                    ? "not checked (the tool names no destination arguments)"
                    : g.Destinations is { } narrowed
                        ? $"{tool.Destinations.Describe()}, narrowed to {narrowed.Describe()}"
                        : tool.Destinations.Describe();
                var approval = g.Approval is { } a
                    ? $"{a.Approvers} of '{a.Group}' within {Durations.Format(a.Expiry)} when {a.DescribeCondition()} ({a.RuleId})" +
                      (a.EscalationGroup is { } escalation ? $", '{escalation}' too after {Durations.Format(a.EscalationDelay!.Value)}" : "")
                    : "never";
                return new WhoCanRow(agent.Id, agent.Team, agent.Suspended || tool.Suspended, tool.Name, tool.Risk, g.Id,
                    g.Constraints.Select(c => c.Describe()).ToList(), destinations, approval, g.Terms);
            })
            .ToList();
        return (rows, null, byCapability ? $"capability {capabilityOrTool}" : $"tool {capabilityOrTool}");
    }
}
