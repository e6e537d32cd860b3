namespace AgentBus.Policy.Engine;

/// <summary>
/// One agent that can use a tool, and on what terms. <paramref name="Accepts"/> is the sensitive data
/// its calls may carry (the operation's, narrowed by the grant, set at <paramref name="AcceptsRuleId"/>);
/// <paramref name="Receives"/> the classes it may read in results, unmasked.
/// </summary>
public sealed record WhoCanRow(
    string Agent,
    string Team,
    bool AgentSuspended,
    string Tool,
    string? Operation,
    string Risk,
    string Grant,
    IReadOnlyList<string> Constraints,
    string Destinations,
    string Approval,
    AdmissionTerms Terms,
    string Accepts,
    string AcceptsRuleId,
    IReadOnlyList<string> Receives);

/// <summary>
/// "Which agents can move money?": every grant on an operation (or generic tool) with a capability,
/// on one named tool, or on one operation (payments.refund). A grant covering several operations
/// answers once per operation, so a refund and an order lookup are never confused.
/// </summary>
public static class WhoCan
{
    public static (IReadOnlyList<WhoCanRow> Rows, string? Error, string Subject) Query(PolicySnapshot policy, string capabilityOrTool)
    {
        var byCapability = PolicyLoader.KnownCapabilities.Contains(capabilityOrTool);
        var byOperation = !byCapability && !policy.Tools.ContainsKey(capabilityOrTool) && policy.Catalog.Find(capabilityOrTool) is not null;
        if (!byCapability && !byOperation && !policy.Tools.ContainsKey(capabilityOrTool))
            return ([], $"'{capabilityOrTool}' is neither a capability ({string.Join(", ", PolicyLoader.KnownCapabilities)}), a tool in the policy ({string.Join(", ", policy.Tools.Keys.Order())}) nor an operation (tool.operation, see `agentbus tools list`).",
                capabilityOrTool);

        var rows = policy.Grants.Values
            .Where(g => byCapability ? (g.Operation?.Capabilities ?? policy.Tools[g.Tool].Capabilities).Contains(capabilityOrTool)
                : byOperation ? g.Subject == capabilityOrTool
                : g.Tool == capabilityOrTool)
            .OrderBy(g => g.Agent, StringComparer.Ordinal).ThenBy(g => g.Subject, StringComparer.Ordinal)
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
                var own = g.Operation?.DataBoundary ?? tool.DataBoundary;
                var accepts = g.DataBoundaryRuleId == $"{g.Id}/accepts"
                    ? $"{own.Describe()}, narrowed to {g.DataBoundary.Describe()}"
                    : own.Describe();
                return new WhoCanRow(agent.Id, agent.Team, agent.Suspended || tool.Suspended, tool.Name, g.Operation?.Name, g.Operation?.Risk ?? tool.Risk, g.Id,
                    g.Constraints.Select(c => c.Describe()).ToList(), destinations, approval, g.Terms, accepts, g.DataBoundaryRuleId, agent.Receives);
            })
            .ToList();
        return (rows, null, byCapability ? $"capability {capabilityOrTool}" : byOperation ? $"operation {capabilityOrTool}" : $"tool {capabilityOrTool}");
    }
}
