using System.Globalization;
using System.Text.Json.Nodes;
using AgentBus.DataBoundaries;
using AgentBus.Policy.Engine.Rules;

namespace AgentBus.Policy.Engine;

public enum PolicyChangeKind
{
    Added,
    Removed,
    Changed,
}

/// <summary>Whether a change lets agents do more (widens) or less (narrows); <see cref="Unclear"/> unless that is certain.</summary>
public enum PolicyChangeEffect
{
    Unclear,
    Widens,
    Narrows,
}

/// <summary>
/// One difference between two policies. <paramref name="Section"/> groups it (agents, teams, grants,
/// limits, budgets, tools, operations); <paramref name="Subject"/> names what changed
/// ("grant support-bot-refunds approval.approvers", "limits.agents.intern-bot.callsPerMinute");
/// <paramref name="Before"/> and <paramref name="After"/> are null for what did not exist.
/// <paramref name="Hint"/> says in words why <paramref name="Effect"/> is what it is.
/// </summary>
public sealed record PolicyChange(
    string Section, PolicyChangeKind Kind, string Subject, string? Before, string? After,
    PolicyChangeEffect Effect = PolicyChangeEffect.Unclear, string? Hint = null);

/// <summary>
/// The semantic difference between two loaded policies (`agentbus policy diff A B`): what an agent
/// may now do that it could not, and the reverse, compared on the policy as the evaluator and the
/// admission step apply it, not on the text. A grant without <c>operations</c> is compared as the
/// operations it covers, and limits and budgets as each agent, tool and operation receives them
/// (defaults applied), so a new default shows on every agent it reaches. A change is labelled
/// widening or narrowing only when that follows from the rules alone: a higher limit, an approval
/// removed, a constraint whose every bound is looser, a data class accepted or received. Anything else (another approver group, a new
/// argument schema, a pattern rewritten) is reported without a label.
/// </summary>
public static class PolicyDiff
{
    public const string Agents = "agents", Teams = "teams", Grants = "grants", Limits = "limits", Budgets = "budgets",
        Tools = "tools", Operations = "operations";

    /// <summary>The order sections are reported in.</summary>
    public static IReadOnlyList<string> Sections { get; } = [Agents, Teams, Grants, Limits, Budgets, Tools, Operations];

    public static IReadOnlyList<PolicyChange> Compare(PolicySnapshot before, PolicySnapshot after)
    {
        var changes = new List<PolicyChange>();
        CompareAgents(before, after, changes);
        CompareTeams(before, after, changes);
        CompareGrants(before, after, changes);
        CompareLimits(before, after, changes);
        CompareTools(before, after, changes);
        CompareOperations(before, after, changes);
        return changes
            .OrderBy(c => Sections.IndexOf(c.Section))
            .ThenBy(c => c.Subject, StringComparer.Ordinal)
            .ToList();
    }

    static int IndexOf(this IReadOnlyList<string> list, string value)
    {
        for (var i = 0; i < list.Count; i++)
            if (list[i] == value)
                return i;
        return list.Count;
    }

    // ---- agents and teams ----

    static void CompareAgents(PolicySnapshot before, PolicySnapshot after, List<PolicyChange> changes)
    {
        foreach (var (id, kind, a, b) in Match(before.Agents, after.Agents))
        {
            var subject = $"agent {id}";
            if (kind != PolicyChangeKind.Changed)
            {
                // An agent alone may do nothing; what it is granted shows under grants.
                changes.Add(new(Agents, kind, subject, a is null ? null : Describe(a), b is null ? null : Describe(b)));
                continue;
            }
            Field(changes, Agents, subject + " team", a!.Team, b!.Team);
            Field(changes, Agents, subject + " owner", a.Owner ?? "(none)", b.Owner ?? "(none)");
            if (a.Suspended != b.Suspended)
                changes.Add(new(Agents, PolicyChangeKind.Changed, subject + " status", Status(a.Suspended), Status(b.Suspended),
                    b.Suspended ? PolicyChangeEffect.Narrows : PolicyChangeEffect.Widens,
                    b.Suspended ? "narrows: agent suspended" : "widens: agent no longer suspended"));
            if (a.Rollback != b.Rollback)
                changes.Add(new(Agents, PolicyChangeKind.Changed, subject + " rollback", Flag(a.Rollback), Flag(b.Rollback)));
            CompareReceives(subject, a.Receives, b.Receives, changes);
        }
    }

    /// <summary>A class an agent receives reaches it unmasked in results: one more is a widening.</summary>
    static void CompareReceives(string agent, IReadOnlyList<string> before, IReadOnlyList<string> after, List<PolicyChange> changes)
    {
        var was = before.ToHashSet(StringComparer.Ordinal);
        var now = after.ToHashSet(StringComparer.Ordinal);
        if (was.SetEquals(now))
            return;
        var effect = Direction(grew: was.IsSubsetOf(now), shrank: now.IsSubsetOf(was));
        var added = now.Except(was).Order(StringComparer.Ordinal).ToList();
        var removed = was.Except(now).Order(StringComparer.Ordinal).ToList();
        changes.Add(new(Agents, PolicyChangeKind.Changed, agent + " receives", Receives(before), Receives(after), effect,
            Prefixed(effect,
                added.Count > 0 ? $"now receives {string.Join(", ", added)} unmasked" : null,
                removed.Count > 0 ? $"{string.Join(", ", removed)} now masked in its results" : null)));
    }

    static string Receives(IReadOnlyList<string> classes) => classes.Count == 0 ? "nothing" : List(classes.Order(StringComparer.Ordinal));

    static string Describe(AgentPolicy agent) =>
        $"team {agent.Team}" + (agent.Owner is { } owner ? $", owner {owner}" : "") + (agent.Suspended ? ", suspended" : "") +
        (agent.Rollback ? ", rollback identity" : "") + (agent.Receives.Count > 0 ? $", receives {Receives(agent.Receives)}" : "");

    static string Status(bool suspended) => suspended ? "suspended" : "active";

    static string Flag(bool value) => value ? "true" : "false";

    static void CompareTeams(PolicySnapshot before, PolicySnapshot after, List<PolicyChange> changes)
    {
        foreach (var (id, kind, a, b) in Match(before.Teams, after.Teams))
        {
            var was = (a ?? []).ToHashSet(StringComparer.Ordinal);
            var now = (b ?? []).ToHashSet(StringComparer.Ordinal);
            if (kind == PolicyChangeKind.Changed && was.SetEquals(now))
                continue;
            // A team's members may not approve its agents' actions: fewer members, more possible approvers.
            // A team no agent belongs to excludes nobody.
            var named = before.Agents.Values.Concat(after.Agents.Values).Any(agent => agent.Team == id);
            var effect = named ? Direction(grew: was.IsSubsetOf(now), shrank: now.IsSubsetOf(was), growthNarrows: true) : PolicyChangeEffect.Unclear;
            changes.Add(new(Teams, kind, $"team {id} members", a is null ? null : List(a), b is null ? null : List(b), effect,
                effect switch
                {
                    PolicyChangeEffect.Widens => "widens: people removed from the team may now approve its agents' actions",
                    PolicyChangeEffect.Narrows => "narrows: people added to the team may no longer approve its agents' actions",
                    _ => null,
                }));
        }
    }

    // ---- grants ----

    /// <summary>
    /// A grant as written, gathered from the snapshot's one entry per covered operation.
    /// <paramref name="Entries"/>: operation full name (empty for a generic tool) → that entry.
    /// </summary>
    sealed record Grant(string Id, string Agent, string Tool, IReadOnlyList<string> Operations, GrantPolicy First,
        IReadOnlyDictionary<string, GrantPolicy> Entries);

    static Dictionary<string, Grant> GrantsById(PolicySnapshot policy) =>
        policy.Grants.Values.GroupBy(g => g.Id, StringComparer.Ordinal).ToDictionary(
            g => g.Key,
            g => new Grant(g.Key, g.First().Agent, g.First().Tool,
                g.Select(e => e.Operation?.FullName).OfType<string>().Order(StringComparer.Ordinal).ToList(), g.First(),
                g.ToDictionary(e => e.Operation?.FullName ?? "", StringComparer.Ordinal)),
            StringComparer.Ordinal);

    static void CompareGrants(PolicySnapshot before, PolicySnapshot after, List<PolicyChange> changes)
    {
        foreach (var (id, kind, a, b) in Match(GrantsById(before), GrantsById(after)))
        {
            var subject = $"grant {id}";
            if (kind == PolicyChangeKind.Added)
            {
                changes.Add(new(Grants, kind, subject, null, Describe(b!), PolicyChangeEffect.Widens, $"widens: {b!.Agent} may use {Covers(b)}"));
                continue;
            }
            if (kind == PolicyChangeKind.Removed)
            {
                changes.Add(new(Grants, kind, subject, Describe(a!), null, PolicyChangeEffect.Narrows, $"narrows: {a!.Agent} may no longer use {Covers(a)}"));
                continue;
            }

            if (a!.Agent != b!.Agent || a.Tool != b.Tool)
            {
                // Another agent or tool: compare it as a different grant under the same id.
                changes.Add(new(Grants, kind, subject, Describe(a), Describe(b)));
                continue;
            }

            var was = a.Operations.ToHashSet(StringComparer.Ordinal);
            var now = b.Operations.ToHashSet(StringComparer.Ordinal);
            if (!was.SetEquals(now))
            {
                var effect = Direction(grew: was.IsSubsetOf(now), shrank: now.IsSubsetOf(was));
                var added = now.Except(was).Order(StringComparer.Ordinal).ToList();
                var removed = was.Except(now).Order(StringComparer.Ordinal).ToList();
                changes.Add(new(Grants, kind, subject + " operations", List(a.Operations), List(b.Operations), effect,
                    string.Join("; ", new[]
                    {
                        added.Count > 0 ? $"{(effect == PolicyChangeEffect.Widens ? "widens: " : "")}now covers {List(added)}" : null,
                        removed.Count > 0 ? $"{(effect == PolicyChangeEffect.Narrows ? "narrows: " : "")}no longer covers {List(removed)}" : null,
                    }.OfType<string>())));
            }

            CompareConstraints(subject, a.First.Constraints, b.First.Constraints, changes);
            CompareDestinations(Grants, subject + " destinations", a.First.Destinations, b.First.Destinations, changes,
                absentMeans: "only the tool's destinations apply");
            CompareApproval(subject, a.First.Approval, b.First.Approval, changes);

            // Compared per operation as the evaluator applies it (the catalog's, narrowed by the grant), so a catalog
            // edit shows on every agent it reaches; an operation newly covered shows above, whatever it accepts.
            foreach (var (operation, entry) in a.Entries.Where(e => b.Entries.ContainsKey(e.Key)).OrderBy(e => e.Key, StringComparer.Ordinal))
                CompareDataBoundary(operation.Length == 0 ? $"{subject} accepts" : $"{subject} {operation} accepts",
                    entry.DataBoundary, b.Entries[operation].DataBoundary, changes);
        }
    }

    /// <summary>More classes accepted, or a limit raised or gone, lets the agent send more sensitive data: a widening.</summary>
    static void CompareDataBoundary(string subject, DataBoundary before, DataBoundary after, List<PolicyChange> changes)
    {
        if (before.Describe() == after.Describe())
            return;
        var effect = Direction(grew: Carries(after, before), shrank: Carries(before, after));
        var parts = new List<string?>();
        parts.AddRange(after.Accepts.Except(before.Accepts).Order(StringComparer.Ordinal).Select(c => $"now accepts {c}"));
        parts.AddRange(before.Accepts.Except(after.Accepts).Order(StringComparer.Ordinal).Select(c => $"no longer accepts {c}"));
        foreach (var dataClass in before.Accepts.Intersect(after.Accepts).Order(StringComparer.Ordinal))
        {
            var (was, now) = (before.Max.TryGetValue(dataClass, out var w) ? w : (int?)null, after.Max.TryGetValue(dataClass, out var n) ? n : (int?)null);
            parts.Add((was, now) switch
            {
                (null, null) => null,
                (null, { } limit) => $"{dataClass} now at most {Number(limit)}",
                ({ } limit, null) => $"{dataClass} no longer limited (was at most {Number(limit)})",
                ({ } w2, { } n2) when w2 != n2 => $"{dataClass} at most {Number(n2)} instead of {Number(w2)}",
                _ => null,
            });
        }
        changes.Add(new(Grants, PolicyChangeKind.Changed, subject, before.Describe(), after.Describe(), effect, Prefixed(effect, [.. parts])));
    }

    /// <summary>Whether everything <paramref name="narrow"/> lets through, <paramref name="wide"/> does too.</summary>
    static bool Carries(DataBoundary wide, DataBoundary narrow) =>
        narrow.Accepts.All(c => wide.Accepts.Contains(c) &&
                                (!wide.Max.TryGetValue(c, out var limit) || (narrow.Max.TryGetValue(c, out var own) && limit >= own)));

    /// <summary>"widens: a; b" for a labelled change, "a; b" otherwise.</summary>
    static string? Prefixed(PolicyChangeEffect effect, params string?[] parts)
    {
        var text = string.Join("; ", parts.OfType<string>());
        if (text.Length == 0)
            return null;
        return effect switch
        {
            PolicyChangeEffect.Widens => "widens: " + text,
            PolicyChangeEffect.Narrows => "narrows: " + text,
            _ => text,
        };
    }

    static string Describe(Grant grant)
    {
        var g = grant.First;
        var parts = new List<string> { $"{grant.Agent} -> {Covers(grant)}" };
        if (g.Constraints.Count > 0)
            parts.Add("constraints: " + string.Join("; ", g.Constraints.Select(c => c.Describe())));
        if (g.Destinations is { } destinations)
            parts.Add("destinations: " + destinations.Describe());
        // Accepting nothing is the default; only what lets sensitive data through is named.
        var accepting = grant.Entries.Where(e => e.Value.DataBoundary.Accepts.Count > 0).OrderBy(e => e.Key, StringComparer.Ordinal).ToList();
        if (accepting.Count > 0)
            parts.Add("accepts: " + (grant.Entries.Count == 1
                ? accepting[0].Value.DataBoundary.Describe()
                : string.Join("; ", accepting.Select(e => $"{e.Key} {e.Value.DataBoundary.Describe()}"))));
        parts.Add("approval: " + (g.Approval is { } approval ? Describe(approval) : "none"));
        parts.Add("limits: " + Describe(g.Terms));
        return string.Join(", ", parts);
    }

    /// <summary>The limits and budget a grant's calls are admitted under, as the policy service applies them.</summary>
    static string Describe(AdmissionTerms terms)
    {
        var parts = new[]
        {
            terms.AgentCallsPerMinute is { } agent ? $"{Number(agent.Value)} calls/min" : null,
            terms.ToolCallsPerMinute is { } tool ? $"tool {Number(tool.Value)} calls/min" : null,
            terms.OperationCallsPerMinute is { } operation ? $"operation {Number(operation.Value)} calls/min" : null,
            terms.RunToolCalls is { } calls ? $"{Number(calls.Value)} calls/run" : null,
            terms.RunRetries is { } retries ? $"{Number(retries.Value)} retries" : null,
            terms.RunDuration is { } duration ? $"runs of {Durations.Format(duration.Value)}" : null,
            terms.PerDayUsd is { } day ? $"{Usd(day.Value)}/day" : null,
            terms.PerRunUsd is { } run ? $"{Usd(run.Value)}/run" : null,
        }.OfType<string>().ToList();
        return parts.Count == 0 ? "none" : string.Join("; ", parts);
    }

    static string Covers(Grant grant) => grant.Operations.Count == 0 ? $"tool {grant.Tool}" : List(grant.Operations);

    static void CompareConstraints(string grant, IReadOnlyList<ArgumentPredicate> before, IReadOnlyList<ArgumentPredicate> after,
        List<PolicyChange> changes)
    {
        // Constraints are named by their rule id (GRANT/constraints/ID, or the index when the file gives no id).
        var a = before.ToDictionary(c => c.RuleId, StringComparer.Ordinal);
        var b = after.ToDictionary(c => c.RuleId, StringComparer.Ordinal);
        foreach (var (id, kind, was, now) in Match(a, b))
        {
            var subject = $"{grant} constraint {id[(id.IndexOf("/constraints/", StringComparison.Ordinal) + "/constraints/".Length)..]}";
            switch (kind)
            {
                case PolicyChangeKind.Added:
                    changes.Add(new(Grants, kind, subject, null, now!.Describe(), PolicyChangeEffect.Narrows, "narrows: constraint added"));
                    break;
                case PolicyChangeKind.Removed:
                    changes.Add(new(Grants, kind, subject, was!.Describe(), null, PolicyChangeEffect.Widens, "widens: constraint removed"));
                    break;
                default:
                    if (was!.Describe() == now!.Describe())
                        break;
                    // A constraint accepting more values lets the agent do more.
                    var effect = Direction(Accepts(was, now));
                    changes.Add(new(Grants, kind, subject, was.Describe(), now.Describe(), effect, effect switch
                    {
                        PolicyChangeEffect.Widens => "widens: constraint accepts more",
                        PolicyChangeEffect.Narrows => "narrows: constraint accepts less",
                        _ => null,
                    }));
                    break;
            }
        }
    }

    static void CompareApproval(string grant, ApprovalPolicy? before, ApprovalPolicy? after, List<PolicyChange> changes)
    {
        var subject = grant + " approval";
        if (before is null && after is null)
            return;
        if (before is null)
        {
            changes.Add(new(Grants, PolicyChangeKind.Added, subject, null, Describe(after!), PolicyChangeEffect.Narrows, "narrows: approval added"));
            return;
        }
        if (after is null)
        {
            changes.Add(new(Grants, PolicyChangeKind.Removed, subject, Describe(before), null, PolicyChangeEffect.Widens, "widens: approval removed"));
            return;
        }

        Field(changes, Grants, subject + ".id", before.RuleId, after.RuleId);
        if (before.DescribeCondition() != after.DescribeCondition())
        {
            // The approval is needed when every term holds: a condition that holds more often asks people more often.
            var effect = Direction(ConditionHolds(before.When, after.When), growthNarrows: true);
            changes.Add(new(Grants, PolicyChangeKind.Changed, subject + ".when", before.DescribeCondition(), after.DescribeCondition(), effect,
                effect switch
                {
                    PolicyChangeEffect.Widens => "widens: approval needed in fewer cases",
                    PolicyChangeEffect.Narrows => "narrows: approval needed in more cases",
                    _ => null,
                }));
        }
        Field(changes, Grants, subject + ".group", before.Group, after.Group);
        if (before.Approvers != after.Approvers)
            changes.Add(new(Grants, PolicyChangeKind.Changed, subject + ".approvers", Number(before.Approvers), Number(after.Approvers),
                after.Approvers < before.Approvers ? PolicyChangeEffect.Widens : PolicyChangeEffect.Narrows,
                after.Approvers < before.Approvers ? "widens: fewer approvers needed" : "narrows: more approvers needed"));
        // A longer expiry gives approvers more time, and holds the budget longer: neither wider nor narrower.
        Field(changes, Grants, subject + ".expires", Durations.Format(before.Expiry), Durations.Format(after.Expiry));

        var escalationBefore = before.EscalationGroup is { } g1 ? $"{g1} after {Durations.Format(before.EscalationDelay!.Value)}" : null;
        var escalationAfter = after.EscalationGroup is { } g2 ? $"{g2} after {Durations.Format(after.EscalationDelay!.Value)}" : null;
        if (escalationBefore != escalationAfter)
        {
            var (kind, effect, hint) = (escalationBefore, escalationAfter) switch
            {
                (null, _) => (PolicyChangeKind.Added, PolicyChangeEffect.Widens, "widens: a second group may approve"),
                (_, null) => (PolicyChangeKind.Removed, PolicyChangeEffect.Narrows, "narrows: only the approval group may approve"),
                _ when before.EscalationGroup == after.EscalationGroup => after.EscalationDelay < before.EscalationDelay
                    ? (PolicyChangeKind.Changed, PolicyChangeEffect.Widens, "widens: escalation comes sooner")
                    : (PolicyChangeKind.Changed, PolicyChangeEffect.Narrows, "narrows: escalation comes later"),
                _ => (PolicyChangeKind.Changed, PolicyChangeEffect.Unclear, (string?)null),
            };
            changes.Add(new(Grants, kind, subject + ".escalate", escalationBefore, escalationAfter, effect, hint));
        }
    }

    static string Describe(ApprovalPolicy approval) =>
        $"{approval.Approvers} of {approval.Group} within {Durations.Format(approval.Expiry)} when {approval.DescribeCondition()}" +
        (approval.EscalationGroup is { } group ? $", escalating to {group} after {Durations.Format(approval.EscalationDelay!.Value)}" : "");

    // ---- limits and budgets, as each agent, tool and operation receives them ----

    static void CompareLimits(PolicySnapshot before, PolicySnapshot after, List<PolicyChange> changes)
    {
        // Every grant of an agent carries the same agent limits; an agent without grants can do nothing, so its limits do not matter.
        static Dictionary<string, AdmissionTerms> ByAgent(PolicySnapshot p) =>
            p.Grants.Values.GroupBy(g => g.Agent, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Terms, StringComparer.Ordinal);
        static Dictionary<string, AdmissionTerms> ByTool(PolicySnapshot p) =>
            p.Grants.Values.GroupBy(g => g.Tool, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Terms, StringComparer.Ordinal);
        static Dictionary<string, AdmissionTerms> ByOperation(PolicySnapshot p) =>
            p.Grants.Values.Where(g => g.Operation is not null).GroupBy(g => g.Operation!.FullName, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.First().Terms, StringComparer.Ordinal);

        foreach (var (agent, kind, a, b) in Match(ByAgent(before), ByAgent(after)))
        {
            if (kind != PolicyChangeKind.Changed)
                continue;
            var at = $"limits.agents.{agent}";
            Limit(changes, Limits, $"{at}.callsPerMinute", a!.AgentCallsPerMinute, b!.AgentCallsPerMinute, Number);
            Limit(changes, Limits, $"{at}.run.maxToolCalls", a.RunToolCalls, b.RunToolCalls, Number);
            Limit(changes, Limits, $"{at}.run.maxRetries", a.RunRetries, b.RunRetries, Number);
            Limit(changes, Limits, $"{at}.run.maxDuration", a.RunDuration, b.RunDuration, Durations.Format);
            Limit(changes, Budgets, $"budgets.agents.{agent}.perDayUsd", a.PerDayUsd, b.PerDayUsd, Usd);
            Limit(changes, Budgets, $"budgets.agents.{agent}.perRunUsd", a.PerRunUsd, b.PerRunUsd, Usd);
        }
        foreach (var (tool, kind, a, b) in Match(ByTool(before), ByTool(after)))
            if (kind == PolicyChangeKind.Changed)
                Limit(changes, Limits, $"limits.tools.{tool}.callsPerMinute", a!.ToolCallsPerMinute, b!.ToolCallsPerMinute, Number);
        foreach (var (operation, kind, a, b) in Match(ByOperation(before), ByOperation(after)))
            if (kind == PolicyChangeKind.Changed)
                Limit(changes, Limits, $"limits.operations.{operation}.callsPerMinute", a!.OperationCallsPerMinute, b!.OperationCallsPerMinute, Number);
    }

    /// <summary>An effective limit: "60 (limits.default.callsPerMinute)", or "unlimited". A higher limit, or none, widens.</summary>
    static void Limit<T>(List<PolicyChange> changes, string section, string subject, RuleLimit<T>? before, RuleLimit<T>? after, Func<T, string> format)
        where T : struct, IComparable<T>
    {
        if (Equals(before?.Value, after?.Value))
            return;
        string Text(RuleLimit<T>? limit) => limit is null ? "unlimited" : $"{format(limit.Value)} ({limit.RuleId})";
        var widens = after is null || (before is not null && after.Value.CompareTo(before.Value) > 0);
        var kind = before is null ? PolicyChangeKind.Added : after is null ? PolicyChangeKind.Removed : PolicyChangeKind.Changed;
        changes.Add(new(section, kind, subject, Text(before), Text(after),
            widens ? PolicyChangeEffect.Widens : PolicyChangeEffect.Narrows,
            after is null ? "widens: no longer limited" : before is null ? "narrows: now limited" : widens ? "widens: higher limit" : "narrows: lower limit"));
    }

    // ---- tools and catalog operations ----

    static void CompareTools(PolicySnapshot before, PolicySnapshot after, List<PolicyChange> changes)
    {
        foreach (var (name, kind, a, b) in Match(before.Tools, after.Tools))
        {
            var subject = $"tool {name}";
            if (kind != PolicyChangeKind.Changed)
            {
                // A tool alone is used by nobody; who may use it shows under grants.
                changes.Add(new(Tools, kind, subject, a is null ? null : Describe(a), b is null ? null : Describe(b)));
                continue;
            }
            if (a!.Suspended != b!.Suspended)
                changes.Add(new(Tools, kind, subject + " status", Status(a.Suspended), Status(b.Suspended),
                    b.Suspended ? PolicyChangeEffect.Narrows : PolicyChangeEffect.Widens,
                    b.Suspended ? "narrows: tool suspended" : "widens: tool no longer suspended"));
            // A catalog tool's capabilities, risk and cost are its operations': they show there.
            if (a.Operations.Count > 0 && b.Operations.Count > 0)
                continue;
            if (a.Operations.Count != b.Operations.Count)
            {
                changes.Add(new(Tools, kind, subject + " kind", a.Operations.Count == 0 ? "generic" : "catalog", b.Operations.Count == 0 ? "generic" : "catalog"));
                continue;
            }
            Field(changes, Tools, subject + " capabilities", List(a.Capabilities.Order(StringComparer.Ordinal)), List(b.Capabilities.Order(StringComparer.Ordinal)));
            Field(changes, Tools, subject + " risk", a.Risk, b.Risk);
            Field(changes, Tools, subject + " unitCostUsd", Usd(a.UnitCostUsd), Usd(b.UnitCostUsd));
            Schema(changes, Tools, subject + " arguments", a.ArgumentSchemaJson, b.ArgumentSchemaJson);
            Field(changes, Tools, subject + " destinations.from", List(a.DestinationArguments.Select(p => p.ToString())),
                List(b.DestinationArguments.Select(p => p.ToString())));
            CompareDestinations(Tools, subject + " destinations", a.Destinations, b.Destinations, changes, absentMeans: "no destination is checked");
            // What each agent may send through it shows under its grant, narrowed as the evaluator applies it.
            Field(changes, Tools, subject + " accepts", a.DataBoundary.Describe(), b.DataBoundary.Describe());
        }
    }

    static string Describe(ToolPolicy tool) =>
        tool.Operations.Count > 0
            ? $"catalog tool, operations {List(tool.Operations.Keys.Order(StringComparer.Ordinal))}"
            : $"generic tool, risk {tool.Risk}, capabilities {List(tool.Capabilities)}" + (tool.Suspended ? ", suspended" : "") +
              (tool.DataBoundary.Accepts.Count > 0 ? $", accepts {tool.DataBoundary.Describe()}" : "");

    static void CompareOperations(PolicySnapshot before, PolicySnapshot after, List<PolicyChange> changes)
    {
        static Dictionary<string, CatalogOperation> All(PolicySnapshot p) =>
            p.Tools.Values.SelectMany(t => t.Operations.Values).ToDictionary(o => o.FullName, StringComparer.Ordinal);

        foreach (var (name, kind, a, b) in Match(All(before), All(after)))
        {
            var subject = $"operation {name}";
            if (kind != PolicyChangeKind.Changed)
            {
                // Who may call it is the grants' business (a grant covering every operation shows the new one there).
                changes.Add(new(Operations, kind, subject, a is null ? null : Describe(a), b is null ? null : Describe(b)));
                continue;
            }
            Field(changes, Operations, subject + " risk", a!.Risk, b!.Risk);
            Field(changes, Operations, subject + " capabilities", List(a.Capabilities.Order(StringComparer.Ordinal)), List(b.Capabilities.Order(StringComparer.Ordinal)));
            Field(changes, Operations, subject + " readOnly", Flag(a.ReadOnly), Flag(b.ReadOnly));
            Field(changes, Operations, subject + " idempotent", Flag(a.Idempotent), Flag(b.Idempotent));
            Field(changes, Operations, subject + " unitCostUsd", Usd(a.UnitCostUsd), Usd(b.UnitCostUsd));
            Field(changes, Operations, subject + " undo", Undo(a), Undo(b));
            Schema(changes, Operations, subject + " arguments", a.ArgumentSchemaJson, b.ArgumentSchemaJson);
            Field(changes, Operations, subject + " http", Http(a), Http(b));
            // What each agent may send to it shows under its grant, narrowed as the evaluator applies it.
            Field(changes, Operations, subject + " accepts", a.DataBoundary.Describe(), b.DataBoundary.Describe());
        }
    }

    static string Describe(CatalogOperation operation) =>
        $"risk {operation.Risk}, capabilities {List(operation.Capabilities)}" + (operation.ReadOnly ? ", read-only" : "") +
        $", ${Usd(operation.UnitCostUsd)}, {Undo(operation)}" +
        (operation.DataBoundary.Accepts.Count > 0 ? $", accepts {operation.DataBoundary.Describe()}" : "");

    static string Undo(CatalogOperation operation) =>
        operation.Compensation is { } compensation ? $"undone by {compensation.FullName}"
        : operation.Irreversible ? "irreversible" + (operation.IrreversibleReason is { } why ? $" ({why})" : "")
        : "no undo declared";

    static string Http(CatalogOperation operation) =>
        operation.Http is { } http ? $"{http.Method} {http.Url}" : "(none)";

    static void Schema(List<PolicyChange> changes, string section, string subject, JsonNode? before, JsonNode? after)
    {
        if (JsonNode.DeepEquals(before, after))
            return;
        changes.Add(new(section, PolicyChangeKind.Changed, subject, before?.ToJsonString() ?? "(any object)", after?.ToJsonString() ?? "(any object)"));
    }

    static void CompareDestinations(string section, string subject, DestinationAllowList? before, DestinationAllowList? after,
        List<PolicyChange> changes, string absentMeans)
    {
        if (before is null && after is null)
            return;
        var was = before is null ? null : Entries(before);
        var now = after is null ? null : Entries(after);
        if (was is not null && now is not null && was.SetEquals(now))
            return;
        var kind = before is null ? PolicyChangeKind.Added : after is null ? PolicyChangeKind.Removed : PolicyChangeKind.Changed;
        // An allow list is a union, so more entries allow more. A grant's list narrows the tool's (both must allow), and a
        // tool without one checks nothing: so a list that appears narrows, and one that goes widens.
        var effect = was is null ? PolicyChangeEffect.Narrows
            : now is null ? PolicyChangeEffect.Widens
            : Direction(grew: was.IsSubsetOf(now), shrank: now.IsSubsetOf(was));
        changes.Add(new(section, kind, subject, before?.Describe() ?? absentMeans, after?.Describe() ?? absentMeans, effect, effect switch
        {
            PolicyChangeEffect.Widens => now is null ? $"widens: {absentMeans}" : "widens: more destinations allowed",
            PolicyChangeEffect.Narrows => was is null ? "narrows: destinations now checked against this list" : "narrows: fewer destinations allowed",
            _ => null,
        }));
    }

    static HashSet<string> Entries(DestinationAllowList list) =>
        list.Hosts.Select(h => "host " + h.ToLowerInvariant()).Concat(list.UrlPrefixes.Select(p => "url " + p)).Concat(list.Channels.Select(c => "channel " + c))
            .ToHashSet(StringComparer.Ordinal);

    // ---- how predicates compare ----

    /// <summary>Whether <paramref name="after"/> accepts a superset (grew), a subset (shrank) of what <paramref name="before"/> accepts; both when equal.</summary>
    static (bool Grew, bool Shrank) Accepts(ArgumentPredicate before, ArgumentPredicate after)
    {
        if (before.Pointer.ToString() != after.Pointer.ToString() || before.Pattern?.ToString() != after.Pattern?.ToString())
            return (false, false);
        var grew = true;
        var shrank = true;
        void Bound<T>(T? was, T? now, bool higherIsLooser) where T : struct, IComparable<T>
        {
            if (Equals(was, now))
                return;
            // No bound accepts everything.
            var looser = now is null || (was is not null && (higherIsLooser ? now.Value.CompareTo(was.Value) > 0 : now.Value.CompareTo(was.Value) < 0));
            grew &= looser;
            shrank &= !looser;
        }
        Bound(before.Min, after.Min, higherIsLooser: false);
        Bound(before.Above, after.Above, higherIsLooser: false);
        Bound(before.Max, after.Max, higherIsLooser: true);
        Bound(before.Below, after.Below, higherIsLooser: true);
        Bound(before.MaxLength, after.MaxLength, higherIsLooser: true);
        if (before.Optional != after.Optional)
        {
            grew &= after.Optional;
            shrank &= !after.Optional;
        }
        var valuesBefore = before.In?.ToHashSet(StringComparer.Ordinal);
        var valuesAfter = after.In?.ToHashSet(StringComparer.Ordinal);
        if (!(valuesBefore is null && valuesAfter is null) && !(valuesBefore is not null && valuesAfter is not null && valuesBefore.SetEquals(valuesAfter)))
        {
            grew &= valuesAfter is null || (valuesBefore is not null && valuesBefore.IsSubsetOf(valuesAfter));
            shrank &= valuesBefore is null || (valuesAfter is not null && valuesAfter.IsSubsetOf(valuesBefore));
        }
        return (grew, shrank);
    }

    /// <summary>
    /// For an approval condition (all terms must hold; an absent argument holds): whether it now holds
    /// in more cases (grew) or fewer (shrank). Terms are matched by argument; a term removed holds everywhere.
    /// </summary>
    static (bool Grew, bool Shrank) ConditionHolds(IReadOnlyList<ArgumentPredicate> before, IReadOnlyList<ArgumentPredicate> after)
    {
        static Dictionary<string, ArgumentPredicate>? ByPointer(IReadOnlyList<ArgumentPredicate> terms)
        {
            var map = new Dictionary<string, ArgumentPredicate>(StringComparer.Ordinal);
            foreach (var term in terms)
                if (!map.TryAdd(term.Pointer.ToString(), term))
                    return null;
            return map;
        }
        if (ByPointer(before) is not { } a || ByPointer(after) is not { } b)
            return (false, false);
        var grew = true;
        var shrank = true;
        foreach (var (_, kind, was, now) in Match(a, b))
        {
            var (termGrew, termShrank) = kind switch
            {
                PolicyChangeKind.Removed => (true, false),
                PolicyChangeKind.Added => (false, true),
                // Optional means nothing in a condition (an absent argument always holds).
                _ => Accepts(Without(was!), Without(now!)),
            };
            grew &= termGrew;
            shrank &= termShrank;
        }
        return (grew, shrank);
    }

    static ArgumentPredicate Without(ArgumentPredicate term) =>
        term.Optional ? new ArgumentPredicate
        {
            RuleId = term.RuleId, Pointer = term.Pointer, Min = term.Min, Max = term.Max, Above = term.Above, Below = term.Below,
            In = term.In, Pattern = term.Pattern, MaxLength = term.MaxLength, Optional = false, Line = term.Line,
        } : term;

    /// <summary>What a change that lets more through means: widening, or (for an approval condition, a team) narrowing.</summary>
    static PolicyChangeEffect Direction((bool Grew, bool Shrank) change, bool growthNarrows = false) =>
        Direction(change.Grew, change.Shrank, growthNarrows);

    static PolicyChangeEffect Direction(bool grew, bool shrank, bool growthNarrows = false) => (grew, shrank) switch
    {
        (true, false) => growthNarrows ? PolicyChangeEffect.Narrows : PolicyChangeEffect.Widens,
        (false, true) => growthNarrows ? PolicyChangeEffect.Widens : PolicyChangeEffect.Narrows,
        _ => PolicyChangeEffect.Unclear,
    };

    // ---- helpers ----

    /// <summary>Pairs two keyed collections: each key once, added, removed, or in both (reported as changed; the caller compares).</summary>
    static IEnumerable<(string Key, PolicyChangeKind Kind, T? Before, T? After)> Match<T>(IReadOnlyDictionary<string, T> before, IReadOnlyDictionary<string, T> after)
        where T : class
    {
        foreach (var key in before.Keys.Union(after.Keys, StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            var a = before.GetValueOrDefault(key);
            var b = after.GetValueOrDefault(key);
            yield return (key, a is null ? PolicyChangeKind.Added : b is null ? PolicyChangeKind.Removed : PolicyChangeKind.Changed, a, b);
        }
    }

    static void Field(List<PolicyChange> changes, string section, string subject, string before, string after)
    {
        if (before != after)
            changes.Add(new(section, PolicyChangeKind.Changed, subject, before, after));
    }

    static string List(IEnumerable<string> items) => "[" + string.Join(", ", items) + "]";

    static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);

    static string Usd(decimal value) => "$" + value.ToString("0.00####", CultureInfo.InvariantCulture);
}
