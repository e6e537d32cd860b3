using System.Globalization;
using System.Text;
using AgentBus.Audit.Stories;
using AgentBus.OperatorConsole.Identity;
using AgentBus.Operations.Rollback;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Mvc;

namespace AgentBus.OperatorConsole.Pages;

/// <summary>Runs as the audit tells them: a filtered list, and one run's story on a time axis.</summary>
static class RunsPages
{
    const int MaxListed = 200;

    public static IEndpointRouteBuilder MapRunsPages(this IEndpointRouteBuilder app)
    {
        app.MapGet("/runs", ListAsync).RequireAuthorization(ConsoleAuthentication.ViewerPolicy);
        app.MapGet("/runs/{runId}", StoryAsync).RequireAuthorization(ConsoleAuthentication.ViewerPolicy);
        return app;
    }

    static async Task<IResult> ListAsync(HttpContext http, RunListQuery runs, PolicyInForce policies, TimeProvider clock, IAntiforgery antiforgery,
        [FromQuery] string? agent, [FromQuery] string? status, [FromQuery] string? since, [FromQuery] string? until, [FromQuery] string? limit)
    {
        var user = ConsoleUser.From(http.User);
        var tokens = antiforgery.GetAndStoreTokens(http);
        var now = clock.GetUtcNow();
        var problems = new List<string>();
        var from = Time(since, "since", now, problems) ?? now.AddDays(-7);
        var to = Time(until, "until", now, problems);
        if (status is { Length: > 0 } && !RunStatuses.All.Contains(status))
            problems.Add($"status must be one of {string.Join(", ", RunStatuses.All)}.");
        if (agent is { Length: > 200 })
            problems.Add("agent is at most 200 characters.");
        var count = 50;
        if (limit is { Length: > 0 } && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count is < 1 or > MaxListed))
        {
            problems.Add($"'at most' is a number of runs from 1 to {MaxListed}.");
            count = 50;
        }

        var html = new StringBuilder("<h1>Runs</h1>");
        html.Append("<form method=\"get\" action=\"/runs\" class=\"filters\" id=\"filters\">")
            .Append("<label>agent<select name=\"agent\"><option value=\"\">any</option>");
        foreach (var id in policies.Current().Policy?.Agents.Keys.Order(StringComparer.Ordinal) ?? Enumerable.Empty<string>())
            html.Append($"<option{(id == agent ? " selected" : "")}>{Html.E(id)}</option>");
        html.Append("</select></label><label>status<select name=\"status\"><option value=\"\">any</option>");
        foreach (var s in RunStatuses.All)
            html.Append($"<option{(s == status ? " selected" : "")}>{Html.E(s)}</option>");
        html.Append($"</select></label><label>since<input name=\"since\" value=\"{Html.E(since ?? "7d")}\" size=\"18\" placeholder=\"7d or 2026-12-01\"></label>")
            .Append($"<label>until<input name=\"until\" value=\"{Html.E(until)}\" size=\"18\" placeholder=\"now\"></label>")
            .Append($"<label>at most<input name=\"limit\" value=\"{count}\" size=\"4\"></label><button type=\"submit\" id=\"filter\">Show</button></form>");
        if (problems.Count > 0)
            return Html.Ok(Html.Page("Runs", "/runs", user, tokens,
                html.Append($"<div class=\"notice error\" id=\"notice\">{string.Join("<br>", problems.Select(Html.E))}</div>").ToString()), 400);

        var list = await runs.ListAsync(new RunListFilter(string.IsNullOrEmpty(agent) ? null : agent, string.IsNullOrEmpty(status) ? null : status,
            from, to, count), http.RequestAborted);
        html.Append($"<p class=\"muted\" id=\"count\">{list.Count} run(s) since {Html.When(from)} UTC{(to is { } t ? $" until {Html.When(t)} UTC" : "")}, newest first.</p>");
        html.Append("<table id=\"runs\"><thead><tr><th>run</th><th>agent</th><th>status</th><th>started (UTC)</th><th>last event</th>")
            .Append("<th class=\"num\">proposed</th><th class=\"num\">allowed</th><th class=\"num\">denied</th><th class=\"num\">pending</th>")
            .Append("<th class=\"num\">succeeded</th><th class=\"num\">failed</th><th class=\"num\">unknown</th><th class=\"num\">cost</th></tr></thead><tbody>");
        foreach (var run in list)
            html.Append($"<tr data-run=\"{Html.E(run.RunId)}\"><td><a href=\"/runs/{Html.U(run.RunId)}\">{Html.E(run.RunId)}</a></td>")
                .Append($"<td>{Html.E(run.AgentId)}</td><td>{Html.Badge(run.Status)}</td><td>{Html.When(run.FirstEventAt)}</td><td>{Html.When(run.LastEventAt)}</td>")
                .Append($"<td class=\"num\">{run.Proposed}</td><td class=\"num\">{run.Allowed}</td><td class=\"num\">{run.Denied}</td><td class=\"num\">{run.PendingApproval}</td>")
                .Append($"<td class=\"num\">{run.Succeeded}</td><td class=\"num\">{run.Failed}</td><td class=\"num\">{run.OutcomeUnknown}</td><td class=\"num\">{Html.Usd(run.CostUsd)}</td></tr>");
        html.Append("</tbody></table>");
        return Html.Ok(Html.Page("Runs", "/runs", user, tokens, html.ToString()));
    }

    static async Task<IResult> StoryAsync(string runId, HttpContext http, RunStoryQuery stories, PolicyInForce policies, RunRollback rollback,
        IAntiforgery antiforgery, [FromQuery] string? notice, [FromQuery] string? kind)
    {
        var user = ConsoleUser.From(http.User);
        var tokens = antiforgery.GetAndStoreTokens(http);
        var story = runId.Length > 200 ? null : await stories.GetAsync(runId, http.RequestAborted);
        if (story is null)
            return Html.Ok(Html.Page("Run", "/runs", user, tokens,
                $"<p><a href=\"/runs\">← Runs</a></p><div class=\"notice error\" id=\"notice\">The audit has no run '{Html.E(runId)}'.</div>"), 404);

        var html = new StringBuilder($"<p><a href=\"/runs\">← Runs</a></p>{Html.Notice(notice, kind)}<h1>Run {Html.E(story.RunId)} {Html.Badge(story.Status)}</h1>");
        var t = story.Totals;
        html.Append($"<p id=\"totals\">Started {Html.When(story.StartedAt)} UTC, last event {Html.When(story.LastEventAt)} UTC. {t.Actions} action(s): ")
            .Append($"{t.Allowed} allowed, {t.Denied} denied, {t.PendingApproval} awaiting approval, {t.Succeeded} succeeded, {t.Failed} failed, ")
            .Append($"{t.OutcomeUnknown} outcome unknown. Cost {Html.Usd(t.CostUsd)}.</p>");
        foreach (var agent in story.Agents)
            html.Append($"<p>{Html.E(agent.AgentId)}: ").Append(agent.Succeeded is { } ok
                ? $"reported {(ok ? Html.Badge("success", "ok") : Html.Badge("failure", "bad"))} at {Html.When(agent.CompletedAt)} UTC{(agent.Summary is { } s ? ": " + Html.E(Html.Cut(s, 300)) : "")}"
                : "has not reported the end of the run").Append("</p>");
        html.Append(RunTimeline.Svg(story));
        html.Append("<h2>Actions</h2>");
        var number = 0;
        foreach (var action in story.Actions)
        {
            number++;
            html.Append($"<section class=\"card action\" id=\"action-{Html.E(action.ActionId)}\" data-action=\"{Html.E(action.ActionId)}\">")
                .Append($"<h3>{number}. {Html.E(action.Tool ?? "?")} by {Html.E(action.AgentId ?? "?")} {Html.Badge(action.Status)}</h3><dl>")
                .Append(Row("Action", $"<code>{Html.E(action.ActionId)}</code>"))
                .Append(action.Intent is { } intent ? Row("Why", Html.E(intent)) : "")
                .Append(Row("Decision", action.Decision is null ? "none yet"
                    : $"{Html.Badge(action.Decision)} {Html.E(action.ReasonCode)}{(action.RuleId is { } rule ? $" by rule <code>{Html.E(rule)}</code>" : "")}" +
                      (action.Reason is { } reason ? $"<br><span class=\"muted\">{Html.E(reason)}</span>" : "")))
                .Append(action.Approvals.Count == 0 ? "" : Row("Approvals", string.Join("<br>", action.Approvals.Select(a =>
                    $"{Html.Clock(a.At)} {Html.E(a.Answer)}{(a.By is { } by ? $" by {Html.E(by)}" : "")}"))))
                .Append(action.AuthorizedAt is { } authorized ? Row("Authorized", $"{Html.Clock(authorized)} UTC") : "")
                .Append(action.Executor is { } executor ? Row("Executor", Html.E(executor)) : "")
                .Append(action.ExternalReference is { } reference ? Row("External reference", $"<code>{Html.E(reference)}</code>") : "")
                .Append(action.Error is { } error ? Row("Error", $"{Html.E(action.ErrorCode)}: {Html.E(Html.Cut(error, 500))}") : "")
                .Append(action.DurationMs is { } ms ? Row("Took", $"{ms} ms") : "")
                .Append(Row("Cost", Html.Usd(action.CostUsd)))
                .Append(action.Undoes is { } undone ? Row("Undoes", $"<code>{Html.E(undone)}</code>") : "")
                .Append(Row("Arguments (redacted)", action.Arguments is { } args ? $"<pre>{Html.E(Html.Cut(args.GetRawText(), 4000))}</pre>" : "—"))
                .Append("</dl><table class=\"steps\"><thead><tr><th>time (UTC)</th><th>hop</th><th>event</th><th>result</th><th>by</th><th>rule</th></tr></thead><tbody>");
            foreach (var step in action.Steps)
                html.Append($"<tr><td>{Html.Clock(step.At)}</td><td>{Html.E(step.Stage)}</td><td>{Html.E(step.EventType)}</td><td>{Html.E(step.Outcome)}</td>")
                    .Append($"<td>{Html.E(step.Actor)}</td><td>{Html.E(step.RuleId)}</td></tr>");
            html.Append("</tbody></table></section>");
        }
        if (story.Rollback is { } compensations)
            html.Append($"<h2>Rollback</h2><p>Its compensations form run <a href=\"/runs/{Html.U(compensations.RunId)}\">{Html.E(compensations.RunId)}</a> ")
                .Append($"({Html.Badge(compensations.Status)}, {compensations.Totals.Succeeded} undone).</p>");
        if (user.MayOperate)
            html.Append(await RollbackSection.RenderAsync(story.RunId, policies, rollback, tokens, http.RequestAborted));
        return Html.Ok(Html.Page($"Run {story.RunId}", "/runs", user, tokens, html.ToString()));
    }

    static string Row(string term, string definitionHtml) => $"<dt>{Html.E(term)}</dt><dd>{definitionHtml}</dd>";

    /// <summary>The CLI's --since/--until forms (<see cref="TimeFilter"/>); a bad one becomes a problem shown on the page.</summary>
    internal static DateTimeOffset? Time(string? text, string name, DateTimeOffset now, List<string> problems)
    {
        if (string.IsNullOrWhiteSpace(text))
            return null;
        if (TimeFilter.TryParse(text, now, out var at))
            return at;
        problems.Add($"{name} '{Html.Cut(text.Trim(), 40)}' is neither {TimeFilter.Forms}.");
        return null;
    }
}

/// <summary>
/// A run's actions on one time axis: a lane per action, a mark per hop (proposed, decided, approved,
/// authorized, started, outcome), coloured by stage, each with its time and event as a tooltip. SVG,
/// drawn on the server.
/// </summary>
static class RunTimeline
{
    const int LaneHeight = 22, Left = 190, Width = 1100, Right = 140, Top = 28;

    static readonly (string Stage, string Colour, string Label)[] Stages =
    [
        (StoryStages.Proposal, "#6b7a99", "proposed"), (StoryStages.Decision, "#2f6fd0", "decided"), (StoryStages.Approval, "#d09a2f", "approval"),
        (StoryStages.Authorization, "#7a4fd0", "authorized"), (StoryStages.Execution, "#2fa3b0", "started"), (StoryStages.Outcome, "#2f8f4e", "outcome"),
        (StoryStages.Report, "#999999", "report"), (StoryStages.Other, "#bbbbbb", "other"),
    ];

    public static string Svg(RunStory story)
    {
        var actions = story.Actions.Take(300).ToList();
        var start = story.StartedAt;
        var span = Math.Max(1, (story.LastEventAt - start).TotalMilliseconds);
        var height = Top + actions.Count * LaneHeight + 30;
        double X(DateTimeOffset at) => Left + (at - start).TotalMilliseconds / span * (Width - Left - Right);

        var svg = new StringBuilder($"<svg id=\"timeline\" role=\"img\" aria-label=\"Timeline of run {Html.E(story.RunId)}\" width=\"{Width}\" height=\"{height}\" viewBox=\"0 0 {Width} {height}\" style=\"background:#fff;border:1px solid #d8dce3;border-radius:8px;max-width:100%\">");
        // The legend, then the axis: the run's start, middle and end.
        var legendX = 10;
        foreach (var (_, colour, label) in Stages.Take(6))
        {
            svg.Append($"<circle cx=\"{legendX + 5}\" cy=\"12\" r=\"5\" fill=\"{colour}\"/><text x=\"{legendX + 14}\" y=\"16\" font-size=\"11\">{label}</text>");
            legendX += 90;
        }
        var axisY = Top + actions.Count * LaneHeight + 6;
        svg.Append($"<line x1=\"{Left}\" y1=\"{axisY}\" x2=\"{Width - Right}\" y2=\"{axisY}\" stroke=\"#889\"/>");
        foreach (var fraction in new[] { 0.0, 0.5, 1.0 })
        {
            var at = start.AddMilliseconds(span * fraction);
            var x = Left + fraction * (Width - Left - Right);
            svg.Append($"<text x=\"{F(x)}\" y=\"{axisY + 16}\" font-size=\"11\" text-anchor=\"{(fraction == 0 ? "start" : fraction == 1 ? "end" : "middle")}\">{Html.Clock(at)}</text>");
        }

        for (var i = 0; i < actions.Count; i++)
        {
            var action = actions[i];
            var y = Top + i * LaneHeight + LaneHeight / 2;
            svg.Append($"<g class=\"lane\" data-action=\"{Html.E(action.ActionId)}\"><text x=\"8\" y=\"{y + 4}\" font-size=\"12\">")
                .Append($"{i + 1}. {Html.E(Html.Cut(action.Tool ?? "?", 22))}</text>");
            if (action.Steps.Count > 0)
                svg.Append($"<line x1=\"{F(X(action.Steps[0].At))}\" y1=\"{y}\" x2=\"{F(X(action.Steps[^1].At))}\" y2=\"{y}\" stroke=\"#c5cad3\" stroke-width=\"3\"/>");
            foreach (var step in action.Steps)
            {
                var colour = Stages.FirstOrDefault(s => s.Stage == step.Stage).Colour ?? "#bbbbbb";
                svg.Append($"<circle cx=\"{F(X(step.At))}\" cy=\"{y}\" r=\"5\" fill=\"{colour}\" data-stage=\"{Html.E(step.Stage)}\"><title>")
                    .Append($"{Html.Clock(step.At)} {Html.E(step.EventType)}: {Html.E(step.Outcome)}{(step.RuleId is { } rule ? $" ({Html.E(rule)})" : "")}</title></circle>");
            }
            svg.Append($"<text x=\"{Width - 8}\" y=\"{y + 4}\" font-size=\"11\" text-anchor=\"end\" fill=\"#556\">{Html.E(action.Status)}</text></g>");
        }
        svg.Append("</svg>");
        if (story.Actions.Count > actions.Count)
            svg.Append($"<p class=\"muted\">The timeline shows the first {actions.Count} of {story.Actions.Count} actions; all are listed below.</p>");
        return svg.ToString();
    }

    static string F(double value) => value.ToString("0.#", CultureInfo.InvariantCulture);
}
