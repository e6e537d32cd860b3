using System.Text;
using AgentBus.OperatorConsole.Identity;
using AgentBus.Operations.DeadLetters;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Mvc;

namespace AgentBus.OperatorConsole.Pages;

/// <summary>Dead-letter queues, their failures grouped by fault and message type, and a replay per group with a dry run first.</summary>
static class DeadLettersPage
{
    public static IEndpointRouteBuilder MapDeadLettersPage(this IEndpointRouteBuilder app)
    {
        app.MapGet("/dead-letters", ListAsync).RequireAuthorization(ConsoleAuthentication.ViewerPolicy);
        app.MapPost("/dead-letters/replay", ReplayAsync).RequireAuthorization(ConsoleAuthentication.OperatorPolicy);
        return app;
    }

    static async Task<IResult> ListAsync(HttpContext http, DeadLetterDesk desk, IAntiforgery antiforgery, [FromQuery] string? notice, [FromQuery] string? kind)
    {
        var user = ConsoleUser.From(http.User);
        var tokens = antiforgery.GetAndStoreTokens(http);
        var html = new StringBuilder("<h1>Dead letters</h1>").Append(Html.Notice(notice, kind));
        IReadOnlyList<DeadLetterQueueSummary> queues;
        try
        {
            queues = await desk.ListAsync(http.RequestAborted);
        }
        catch (Exception ex) when (DeadLetterDesk.IsBrokerProblem(ex))
        {
            html.Append($"<div class=\"notice error\" id=\"broker-error\">The broker could not be read: {Html.E(ex.Message)}</div>");
            return Html.Ok(Html.Page("Dead letters", "/dead-letters", user, tokens, html.ToString()), 503);
        }

        html.Append("<p class=\"muted\">A message lands here when its consumer failed it for good (an <code>_error</code> queue) or no consumer knew it ")
            .Append("(<code>_skipped</code>). Reading them changes nothing; a replay puts a group back on the queue it came from, as the operator, and the ")
            .Append("audit records who did it. Try the dry run first.</p>");
        html.Append("<table id=\"queues\"><thead><tr><th>queue</th><th class=\"num\">messages</th><th>oldest failure (UTC)</th></tr></thead><tbody>");
        foreach (var queue in queues)
            html.Append($"<tr data-queue=\"{Html.E(queue.Queue)}\"><td>{Html.E(queue.Queue)}</td><td class=\"num\">{Html.N(queue.Messages)}</td><td>{Html.When(queue.Oldest)}</td></tr>");
        html.Append("</tbody></table>");
        if (queues.Count == 0)
            html.Append("<p class=\"muted\" id=\"empty\">No dead-letter queue exists yet.</p>");

        foreach (var queue in queues.Where(q => q.Groups.Count > 0))
        {
            html.Append($"<h2>{Html.E(queue.Queue)}</h2>");
            if (queue.Scanned < queue.Messages)
                html.Append($"<p class=\"muted\">Grouped from the first {Html.N(queue.Scanned)} of {Html.N(queue.Messages)} messages.</p>");
            html.Append("<table class=\"groups\"><thead><tr><th>group</th><th>failure</th><th>message type</th><th class=\"num\">count</th><th>first</th><th>last</th><th>example</th>")
                .Append(user.MayOperate ? "<th>replay</th>" : "").Append("</tr></thead><tbody>");
            foreach (var group in queue.Groups)
            {
                html.Append($"<tr data-group=\"{Html.E(group.GroupId)}\"><td><code>{Html.E(group.GroupId)}</code></td><td>{Html.E(group.Failure)}</td>")
                    .Append($"<td>{Html.E(group.MessageType)}</td><td class=\"num\">{group.Count}</td><td>{Html.When(group.Oldest)}</td><td>{Html.When(group.Newest)}</td>")
                    .Append($"<td>{Html.E(Html.Cut(group.Example, 160))}</td>");
                if (user.MayOperate)
                    html.Append("<td>").Append(ReplayForm(queue.Queue, group.GroupId, dryRun: true, tokens)).Append(' ')
                        .Append(ReplayForm(queue.Queue, group.GroupId, dryRun: false, tokens)).Append("</td>");
                html.Append("</tr>");
            }
            html.Append("</tbody></table>");
        }
        return Html.Ok(Html.Page("Dead letters", "/dead-letters", user, tokens, html.ToString()));
    }

    static async Task<IResult> ReplayAsync([FromForm] string? queue, [FromForm] string? group, [FromForm] string? dryRun, HttpContext http, DeadLetterDesk desk)
    {
        var user = ConsoleUser.From(http.User);
        if (string.IsNullOrWhiteSpace(queue) || string.IsNullOrWhiteSpace(group) || queue.Length > 255 || group.Length > 100)
            return Html.Back("/dead-letters", false, "Say which queue and which group to replay.");
        var dry = dryRun == "true";
        try
        {
            var report = await desk.ReplayAsync(queue, group.Trim(), user.Name, dry, http.RequestAborted);
            var left = report.Messages.Count(m => m.Outcome == ReplayOutcome.LeftInPlace);
            var notice = dry
                ? $"Dry run: {report.Messages.Count(m => m.Outcome == ReplayOutcome.WouldReplay)} message(s) of group {group} would go back to {report.Target}" +
                  (left > 0 ? $"; {left} came from another queue and would stay" : "") + ". Nothing was changed."
                : $"Replayed {report.Replayed} message(s) of group {group} to {report.Target}" + (left > 0 ? $"; {left} left in place" : "") +
                  $". Audited as dlq.replay by {user.Name}.";
            return Html.Back("/dead-letters", true, notice);
        }
        catch (Exception ex) when (DeadLetterDesk.IsBrokerProblem(ex))
        {
            return Html.Back("/dead-letters", false, $"The replay did not happen: {ex.Message}");
        }
    }

    static string ReplayForm(string queue, string group, bool dryRun, AntiforgeryTokenSet tokens) =>
        $"<form method=\"post\" action=\"/dead-letters/replay\" class=\"inline\">{Html.Antiforgery(tokens)}" +
        $"<input type=\"hidden\" name=\"queue\" value=\"{Html.E(queue)}\"><input type=\"hidden\" name=\"group\" value=\"{Html.E(group)}\">" +
        $"<input type=\"hidden\" name=\"dryRun\" value=\"{(dryRun ? "true" : "false")}\">" +
        $"<button type=\"submit\" class=\"{(dryRun ? "dry-run" : "replay primary")}\">{(dryRun ? "Dry run" : "Replay")}</button></form>";
}
