using System.Text;
using AgentBus.Catalog;
using AgentBus.OperatorConsole.Identity;
using AgentBus.Policy.Engine;
using Microsoft.AspNetCore.Antiforgery;

namespace AgentBus.OperatorConsole.Pages;

/// <summary>
/// "Who can move money, delete data, deploy code?": agents × capabilities from the policy in force and
/// the live kill switch; each cell names the grants that give it, linked to their terms.
/// </summary>
static class ControlsPage
{
    const string NoCapability = "(none declared)";

    public static IEndpointRouteBuilder MapControlsPage(this IEndpointRouteBuilder app)
    {
        app.MapGet("/controls", ControlsAsync).RequireAuthorization(ConsoleAuthentication.ViewerPolicy);
        app.MapGet("/controls/grants/{grantId}", GrantAsync).RequireAuthorization(ConsoleAuthentication.ViewerPolicy);
        return app;
    }

    static async Task<IResult> ControlsAsync(HttpContext http, PolicyInForce policies, ConsoleQueries queries, IAntiforgery antiforgery)
    {
        var user = ConsoleUser.From(http.User);
        var view = policies.Current();
        var suspensions = await queries.SuspensionsAsync(http.RequestAborted);
        var html = new StringBuilder("<h1>Controls</h1>");
        html.Append(PolicyState(view));
        if (view.Policy is not { } policy)
            return Html.Ok(Html.Page("Controls", "/controls", user, antiforgery.GetAndStoreTokens(http), html.ToString()));

        var suspendedAgents = suspensions.Where(s => s.Kind == "agent").ToDictionary(s => s.Name, StringComparer.Ordinal);
        var suspendedTools = suspensions.Where(s => s.Kind == "tool").ToDictionary(s => s.Name, StringComparer.Ordinal);
        var columns = Capabilities.Known.Append(NoCapability).ToList();
        html.Append("<p class=\"muted\">Each cell: the operations an agent may call with that capability, by grant. ")
            .Append(Html.Badge("approval", "approval")).Append(" a person approves some or all calls; ")
            .Append(Html.Badge("suspended")).Append(" the kill switch stops it now. Everything not listed is denied.</p>");
        html.Append("<table id=\"controls\"><thead><tr><th>agent</th><th>status</th>");
        foreach (var column in columns)
            html.Append($"<th>{Html.E(column)}</th>");
        html.Append("</tr></thead><tbody>");
        foreach (var agent in policy.Agents.Values.OrderBy(a => a.Id, StringComparer.Ordinal))
        {
            html.Append($"<tr data-agent=\"{Html.E(agent.Id)}\"><th><a href=\"/agents/{Html.U(agent.Id)}\">{Html.E(agent.Id)}</a><br>")
                .Append($"<span class=\"muted\">team {Html.E(agent.Team)}{(agent.Owner is { } owner ? $", for {Html.E(owner)}" : "")}</span></th><td>")
                .Append(AgentStatus(agent, suspendedAgents.GetValueOrDefault(agent.Id))).Append("</td>");
            var grants = policy.Grants.Values.Where(g => g.Agent == agent.Id).ToList();
            foreach (var column in columns)
            {
                var cell = grants.Where(g => HasCapability(g, policy, column)).OrderBy(g => g.Subject, StringComparer.Ordinal).ToList();
                html.Append($"<td class=\"cell\" data-capability=\"{Html.E(column)}\">");
                if (cell.Count == 0)
                    html.Append("<span class=\"muted\">—</span>");
                foreach (var grant in cell)
                {
                    var toolStopped = policy.Tools[grant.Tool].Suspended || suspendedTools.ContainsKey(grant.Tool);
                    html.Append($"<a href=\"/controls/grants/{Html.U(grant.Id)}\" title=\"grant {Html.E(grant.Id)}\">{Html.E(grant.Subject)}</a>");
                    if (grant.Approval is not null)
                        html.Append(' ').Append(Html.Badge("approval", "approval"));
                    if (toolStopped)
                        html.Append(' ').Append(Html.Badge("tool suspended", "suspended"));
                }
                html.Append("</td>");
            }
            html.Append("</tr>");
        }
        html.Append("</tbody></table>");

        html.Append("<h2>Tools</h2><table id=\"tools\"><thead><tr><th>tool</th><th>operations</th><th>status</th></tr></thead><tbody>");
        foreach (var tool in policy.Tools.Values.OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            var live = suspendedTools.GetValueOrDefault(tool.Name);
            html.Append($"<tr data-tool=\"{Html.E(tool.Name)}\"><td>{Html.E(tool.Name)}</td><td>")
                .Append(tool.Operations.Count == 0 ? "<span class=\"muted\">generic</span>" : Html.E(string.Join(", ", tool.Operations.Keys.Order(StringComparer.Ordinal))))
                .Append("</td><td>")
                .Append(tool.Suspended ? Html.Badge("suspended in the policy file", "suspended")
                    : live is not null ? Html.Badge("suspended", "suspended") + $" by {Html.E(live.SuspendedBy)} since {Html.When(live.SuspendedAt)} UTC"
                    : Html.Badge("active"))
                .Append("</td></tr>");
        }
        html.Append("</tbody></table>");
        return Html.Ok(Html.Page("Controls", "/controls", user, antiforgery.GetAndStoreTokens(http), html.ToString()));
    }

    static async Task<IResult> GrantAsync(string grantId, HttpContext http, PolicyInForce policies, ConsoleQueries queries, IAntiforgery antiforgery)
    {
        var user = ConsoleUser.From(http.User);
        var tokens = antiforgery.GetAndStoreTokens(http);
        var policy = policies.Current().Policy;
        var grant = policy?.Grants.Values.FirstOrDefault(g => g.Id == grantId);
        if (policy is null || grant is null)
            return Html.Ok(Html.Page("Grant", "/controls", user, tokens,
                $"<p><a href=\"/controls\">← Controls</a></p><div class=\"notice error\" id=\"notice\">The policy in force has no grant '{Html.E(grantId)}'.</div>"), 404);

        var suspensions = await queries.SuspensionsAsync(http.RequestAborted);
        var rows = WhoCan.Query(policy, grant.Tool).Rows.Where(r => r.Grant == grantId).ToList();
        var html = new StringBuilder($"<p><a href=\"/controls\">← Controls</a></p><h1>Grant {Html.E(grantId)}</h1>");
        var first = rows.FirstOrDefault();
        html.Append("<div class=\"card\"><dl>")
            .Append(Row("Agent", $"<a href=\"/agents/{Html.U(grant.Agent)}\">{Html.E(grant.Agent)}</a>"))
            .Append(Row("Tool", Html.E(grant.Tool)))
            .Append(Row("Kill switch", string.Join(" ", suspensions.Where(s => (s.Kind == "agent" && s.Name == grant.Agent) || (s.Kind == "tool" && s.Name == grant.Tool))
                .Select(s => $"{Html.Badge($"{s.Kind} suspended", "suspended")} by {Html.E(s.SuspendedBy)}")) is { Length: > 0 } stopped ? stopped : Html.Badge("not engaged", "active")))
            .Append(Row("Receives (unmasked)", first is null || first.Receives.Count == 0 ? "nothing sensitive" : Html.E(string.Join(", ", first.Receives))))
            .Append("</dl></div>");
        foreach (var row in rows)
        {
            html.Append($"<section class=\"card operation\" data-operation=\"{Html.E(row.Operation ?? row.Tool)}\"><h2>{Html.E(row.Operation is null ? row.Tool : $"{row.Tool}.{row.Operation}")}</h2><dl>")
                .Append(Row("Risk", Html.E(row.Risk)))
                .Append(Row("Capabilities", Html.E(string.Join(", ", CapabilitiesOf(policy, row)) is { Length: > 0 } caps ? caps : NoCapability)))
                .Append(Row("Constraints", row.Constraints.Count == 0 ? "none" : string.Join("<br>", row.Constraints.Select(Html.E))))
                .Append(Row("Destinations", Html.E(row.Destinations)))
                .Append(Row("Approval", Html.E(row.Approval)))
                .Append(Row("Sensitive data it may send", $"{Html.E(row.Accepts)} <span class=\"muted\">({Html.E(row.AcceptsRuleId)})</span>"))
                .Append(Row("Limits", Html.E(Limits(row.Terms))))
                .Append("</dl></section>");
        }
        return Html.Ok(Html.Page($"Grant {grantId}", "/controls", user, tokens, html.ToString()));
    }

    static IEnumerable<string> CapabilitiesOf(PolicySnapshot policy, WhoCanRow row) =>
        row.Operation is { } op && policy.Tools[row.Tool].Operations.TryGetValue(op, out var operation)
            ? operation.Capabilities
            : policy.Tools[row.Tool].Capabilities;

    static bool HasCapability(GrantPolicy grant, PolicySnapshot policy, string capability)
    {
        var capabilities = grant.Operation?.Capabilities ?? policy.Tools[grant.Tool].Capabilities;
        return capability == NoCapability ? capabilities.Count == 0 : capabilities.Contains(capability);
    }

    internal static string Limits(AdmissionTerms terms)
    {
        var parts = new List<string>();
        if (terms.AgentCallsPerMinute is { } a) parts.Add($"agent {a.Value}/min ({a.RuleId})");
        if (terms.ToolCallsPerMinute is { } t) parts.Add($"tool {t.Value}/min ({t.RuleId})");
        if (terms.OperationCallsPerMinute is { } o) parts.Add($"operation {o.Value}/min ({o.RuleId})");
        if (terms.RunToolCalls is { } r) parts.Add($"{r.Value} calls per run ({r.RuleId})");
        if (terms.RunRetries is { } retries) parts.Add($"{retries.Value} retries per run ({retries.RuleId})");
        if (terms.RunDuration is { } d) parts.Add($"runs up to {Durations.Format(d.Value)} ({d.RuleId})");
        if (terms.PerDayUsd is { } day) parts.Add($"{Html.Usd(day.Value)} per day ({day.RuleId})");
        if (terms.PerRunUsd is { } run) parts.Add($"{Html.Usd(run.Value)} per run ({run.RuleId})");
        parts.Add($"estimated {Html.Usd(terms.EstimatedCostUsd)} per call");
        return string.Join("; ", parts);
    }

    internal static string AgentStatus(AgentPolicy agent, LiveSuspension? live) =>
        agent.Suspended ? Html.Badge("suspended in the policy file", "suspended")
        : live is not null ? $"{Html.Badge("suspended")} <span class=\"muted\">by {Html.E(live.SuspendedBy)} since {Html.When(live.SuspendedAt)} UTC" +
                             (live.Reason is { } reason ? $": {Html.E(reason)}" : "") + "</span>"
        : Html.Badge("active");

    internal static string PolicyState(PolicyInForce.View view)
    {
        if (view.Policy is null)
            return $"<div class=\"notice error\" id=\"notice\">The policy file {Html.E(view.File)} does not load:<br>{string.Join("<br>", view.Errors.Select(Html.E))}</div>";
        var state = $"<p class=\"muted\" id=\"policy\">Policy in force: <code>{Html.E(view.File)}</code>, version <code>{Html.E(view.Policy.Version)}</code>.</p>";
        return view.Errors.Count == 0
            ? state
            : state + $"<div class=\"notice warn\">The file was edited and no longer loads; this is the last good version. {string.Join("<br>", view.Errors.Take(5).Select(Html.E))}</div>";
    }

    static string Row(string term, string definitionHtml) => $"<dt>{Html.E(term)}</dt><dd>{definitionHtml}</dd>";
}
