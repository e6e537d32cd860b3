using System.Text;
using AgentBus.OperatorConsole.Identity;
using AgentBus.Operations.Suspensions;
using AgentBus.Policy.Engine;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Mvc;

namespace AgentBus.OperatorConsole.Pages;

/// <summary>
/// Agents and tools: whether each may act now, what it did in the last day, how close it runs to its
/// rate and budget limits; operators suspend and resume here, through the same kill switch as the CLI.
/// </summary>
static class AgentsPages
{
    public static IEndpointRouteBuilder MapAgentsPages(this IEndpointRouteBuilder app)
    {
        app.MapGet("/agents", ListAsync).RequireAuthorization(ConsoleAuthentication.ViewerPolicy);
        app.MapGet("/agents/{agentId}", DetailAsync).RequireAuthorization(ConsoleAuthentication.ViewerPolicy);
        foreach (var (kind, path) in new[] { (SuspensionKind.Agent, "/agents/{name}"), (SuspensionKind.Tool, "/tools/{name}") })
            foreach (var suspend in new[] { true, false })
                app.MapPost($"{path}/{(suspend ? "suspend" : "resume")}",
                        (string name, [FromForm] string? reason, [FromForm] string? back, HttpContext http, KillSwitch killSwitch) =>
                            ChangeAsync(kind, name, suspend, reason, back, http, killSwitch))
                    .RequireAuthorization(ConsoleAuthentication.OperatorPolicy);
        return app;
    }

    static async Task<IResult> ListAsync(HttpContext http, PolicyInForce policies, ConsoleQueries queries, TimeProvider clock, IAntiforgery antiforgery,
        [FromQuery] string? notice, [FromQuery] string? kind)
    {
        var user = ConsoleUser.From(http.User);
        var tokens = antiforgery.GetAndStoreTokens(http);
        var view = policies.Current();
        var html = new StringBuilder("<h1>Agents and tools</h1>").Append(Html.Notice(notice, kind)).Append(ControlsPage.PolicyState(view));
        if (view.Policy is not { } policy)
            return Html.Ok(Html.Page("Agents and tools", "/agents", user, tokens, html.ToString()));

        var suspensions = await queries.SuspensionsAsync(http.RequestAborted);
        var decisions = await queries.DecisionCountsAsync(clock.GetUtcNow().AddDays(-1), http.RequestAborted);
        var usage = await queries.UsageAsync(http.RequestAborted);
        html.Append("<table id=\"agents\"><thead><tr><th>agent</th><th>status</th><th class=\"num\">allowed (24h)</th><th class=\"num\">denied</th>")
            .Append("<th class=\"num\">awaited approval</th><th>calls per minute</th><th>budget today (UTC)</th>")
            .Append(user.MayOperate ? "<th>kill switch</th>" : "").Append("</tr></thead><tbody>");
        foreach (var agent in policy.Agents.Values.OrderBy(a => a.Id, StringComparer.Ordinal))
        {
            var live = suspensions.FirstOrDefault(s => s.Kind == "agent" && s.Name == agent.Id);
            var counts = decisions.GetValueOrDefault(agent.Id);
            var use = usage.GetValueOrDefault(agent.Id);
            var terms = Terms(policy, agent.Id);
            html.Append($"<tr data-agent=\"{Html.E(agent.Id)}\"><td><a href=\"/agents/{Html.U(agent.Id)}\">{Html.E(agent.Id)}</a></td>")
                .Append($"<td class=\"status\">{ControlsPage.AgentStatus(agent, live)}</td>")
                .Append($"<td class=\"num\">{counts?.Allowed ?? 0}</td><td class=\"num\">{counts?.Denied ?? 0}</td><td class=\"num\">{counts?.ApprovalRequired ?? 0}</td>")
                .Append($"<td>{Rate(use, terms)}</td><td>{Budget(use, terms)}</td>");
            if (user.MayOperate)
                html.Append("<td>").Append(SwitchForm("agents", agent.Id, suspended: live is not null, tokens, "/agents")).Append("</td>");
            html.Append("</tr>");
        }
        html.Append("</tbody></table>");

        html.Append("<h2>Tools</h2><table id=\"tools\"><thead><tr><th>tool</th><th>status</th>").Append(user.MayOperate ? "<th>kill switch</th>" : "")
            .Append("</tr></thead><tbody>");
        foreach (var tool in policy.Tools.Values.OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            var live = suspensions.FirstOrDefault(s => s.Kind == "tool" && s.Name == tool.Name);
            html.Append($"<tr data-tool=\"{Html.E(tool.Name)}\"><td>{Html.E(tool.Name)}</td><td class=\"status\">")
                .Append(tool.Suspended ? Html.Badge("suspended in the policy file", "suspended")
                    : live is not null ? $"{Html.Badge("suspended")} <span class=\"muted\">by {Html.E(live.SuspendedBy)} since {Html.When(live.SuspendedAt)} UTC{(live.Reason is { } r ? ": " + Html.E(r) : "")}</span>"
                    : Html.Badge("active"))
                .Append("</td>");
            if (user.MayOperate)
                html.Append("<td>").Append(SwitchForm("tools", tool.Name, suspended: live is not null, tokens, "/agents")).Append("</td>");
            html.Append("</tr>");
        }
        html.Append("</tbody></table>");
        return Html.Ok(Html.Page("Agents and tools", "/agents", user, tokens, html.ToString()));
    }

    static async Task<IResult> DetailAsync(string agentId, HttpContext http, PolicyInForce policies, ConsoleQueries queries, TimeProvider clock,
        IAntiforgery antiforgery, [FromQuery] string? notice, [FromQuery] string? kind)
    {
        var user = ConsoleUser.From(http.User);
        var tokens = antiforgery.GetAndStoreTokens(http);
        var policy = policies.Current().Policy;
        if (policy is null || !policy.Agents.TryGetValue(agentId, out var agent))
            return Html.Ok(Html.Page("Agent", "/agents", user, tokens,
                $"<p><a href=\"/agents\">← Agents and tools</a></p><div class=\"notice error\" id=\"notice\">The policy in force has no agent '{Html.E(agentId)}'.</div>"), 404);

        var suspensions = await queries.SuspensionsAsync(http.RequestAborted);
        var live = suspensions.FirstOrDefault(s => s.Kind == "agent" && s.Name == agentId);
        var use = (await queries.UsageAsync(http.RequestAborted)).GetValueOrDefault(agentId);
        var counts = (await queries.DecisionCountsAsync(clock.GetUtcNow().AddDays(-1), http.RequestAborted, agentId)).GetValueOrDefault(agentId);
        var recent = await queries.RecentDecisionsAsync(agentId, 50, http.RequestAborted);
        var terms = Terms(policy, agentId);
        var back = $"/agents/{Html.U(agentId)}";

        var html = new StringBuilder($"<p><a href=\"/agents\">← Agents and tools</a></p>{Html.Notice(notice, kind)}<h1>Agent {Html.E(agentId)}</h1>");
        html.Append("<div class=\"card\"><dl>")
            .Append($"<dt>Status</dt><dd id=\"status\">{ControlsPage.AgentStatus(agent, live)}</dd>")
            .Append($"<dt>Team</dt><dd>{Html.E(agent.Team)}</dd><dt>Acts for</dt><dd>{Html.E(agent.Owner ?? "—")}</dd>")
            .Append($"<dt>Receives unmasked</dt><dd>{(agent.Receives.Count == 0 ? "nothing sensitive" : Html.E(string.Join(", ", agent.Receives)))}</dd>")
            .Append($"<dt>Last 24 hours</dt><dd>{counts?.Allowed ?? 0} allowed, {counts?.Denied ?? 0} denied, {counts?.ApprovalRequired ?? 0} awaited approval</dd>")
            .Append($"<dt>Calls per minute</dt><dd>{Rate(use, terms)}</dd><dt>Budget today (UTC)</dt><dd>{Budget(use, terms)}</dd>")
            .Append($"<dt>Grants</dt><dd>{string.Join(", ", policy.Grants.Values.Where(g => g.Agent == agentId).Select(g => g.Id).Distinct().Order(StringComparer.Ordinal).Select(id => $"<a href=\"/controls/grants/{Html.U(id)}\">{Html.E(id)}</a>"))}</dd>")
            .Append("</dl>");
        if (user.MayOperate)
            html.Append(SwitchForm("agents", agentId, live is not null, tokens, back));
        html.Append("</div>");

        html.Append("<h2>Recent decisions</h2><table id=\"decisions\"><thead><tr><th>time (UTC)</th><th>tool</th><th>decision</th><th>reason</th><th>rule</th><th>run</th></tr></thead><tbody>");
        foreach (var d in recent)
            html.Append($"<tr><td>{Html.When(d.At)}</td><td>{Html.E(d.Tool)}</td><td>{Html.Badge(d.Outcome)}</td><td>{Html.E(d.ReasonCode)}</td>")
                .Append($"<td>{Html.E(d.RuleId)}</td><td>{(d.RunId is { } run ? $"<a href=\"/runs/{Html.U(run)}#action-{Html.E(d.ActionId)}\">{Html.E(run)}</a>" : "")}</td></tr>");
        html.Append("</tbody></table>");
        if (recent.Count == 0)
            html.Append("<p class=\"muted\">No decision recorded yet.</p>");
        return Html.Ok(Html.Page($"Agent {agentId}", "/agents", user, tokens, html.ToString()));
    }

    static async Task<IResult> ChangeAsync(SuspensionKind kind, string name, bool suspend, string? reason, string? back, HttpContext http, KillSwitch killSwitch)
    {
        var user = ConsoleUser.From(http.User);
        var target = Html.LocalPath(back, "/agents");
        var noun = KillSwitch.KindName(kind);
        try
        {
            var result = await killSwitch.SetAsync(kind, name, suspend, user.Name, reason, http.RequestAborted);
            if (result.Change is not { } change)
                return Html.Back(target, true, $"The {noun} {name} was not suspended; nothing to do.");
            if (result.AuditError is { } error)
                return Html.Back(target, false, error);
            return Html.Back(target, true, suspend
                ? change.Existing
                    ? $"The {noun} {name} was already suspended (by {change.By} at {Html.When(change.At)} UTC)."
                    : $"Suspended {noun} {name}: the policy denies it within a second and executors refuse its queued commands. Audited as {result.Action!.Action} by {user.Name}."
                : $"Resumed {noun} {name}. Audited as {result.Action!.Action} by {user.Name}.");
        }
        catch (KillSwitchException ex)
        {
            return Html.Back(target, false, ex.Message);
        }
    }

    static string SwitchForm(string collection, string name, bool suspended, AntiforgeryTokenSet tokens, string back)
    {
        var action = suspended ? "resume" : "suspend";
        return $"<form method=\"post\" action=\"/{collection}/{Html.U(name)}/{action}\" class=\"inline switch\">{Html.Antiforgery(tokens)}" +
               $"<input type=\"hidden\" name=\"back\" value=\"{Html.E(back)}\">" +
               $"<input name=\"reason\" placeholder=\"reason (audited)\" maxlength=\"{KillSwitch.MaxReasonLength}\" size=\"22\"{(suspended ? "" : " required")}> " +
               $"<button type=\"submit\" class=\"{(suspended ? "primary" : "danger")} {action}\" data-target=\"{Html.E(name)}\">{(suspended ? "Resume" : "Suspend")}</button></form>";
    }

    static AdmissionTerms? Terms(PolicySnapshot policy, string agentId) =>
        policy.Grants.Values.Where(g => g.Agent == agentId).Select(g => g.Terms).FirstOrDefault();

    static string Rate(AgentUsage? use, AdmissionTerms? terms)
    {
        var calls = use?.CallsThisMinute ?? 0;
        return terms?.AgentCallsPerMinute is { } limit
            ? $"{calls} of {limit.Value} this minute ({Percent(calls, limit.Value)}); {use?.CallsLastMinute ?? 0} the minute before"
            : $"{calls} this minute (no limit)";
    }

    static string Budget(AgentUsage? use, AdmissionTerms? terms)
    {
        var spent = use?.SpentTodayUsd ?? 0;
        var reserved = use?.ReservedTodayUsd ?? 0;
        var text = $"{Html.Usd(spent)} spent, {Html.Usd(reserved)} reserved";
        return terms?.PerDayUsd is { } limit ? $"{text} of {Html.Usd(limit.Value)} ({Percent(spent + reserved, limit.Value)})" : text + " (no daily limit)";
    }

    static string Percent(decimal used, decimal limit) =>
        limit <= 0 ? "—" : $"{Math.Round(used / limit * 100, 0)} %";
}
