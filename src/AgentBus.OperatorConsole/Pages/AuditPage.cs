using System.Text;
using AgentBus.OperatorConsole.Chain;
using AgentBus.OperatorConsole.Identity;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Mvc;

namespace AgentBus.OperatorConsole.Pages;

/// <summary>Has anyone altered the audit? The chain's last verification, its head and, when broken, the first bad row; for auditors, the operators' own trail.</summary>
static class AuditPage
{
    public static IEndpointRouteBuilder MapAuditPage(this IEndpointRouteBuilder app)
    {
        app.MapGet("/audit", ShowAsync).RequireAuthorization(ConsoleAuthentication.ViewerPolicy);
        app.MapPost("/audit/verify", (HttpContext http, ChainWatch watch) =>
        {
            var user = ConsoleUser.From(http.User);
            return watch.Request(user.Name)
                ? Html.Back("/audit", true, "Verification started; this page shows its result when it ends.")
                : Html.Back("/audit", false, "A verification is already running.");
        }).RequireAuthorization(ConsoleAuthentication.AuditorPolicy);
        return app;
    }

    static async Task<IResult> ShowAsync(HttpContext http, ChainWatch watch, ConsoleQueries queries, IAntiforgery antiforgery,
        [FromQuery] string? notice, [FromQuery] string? kind)
    {
        var user = ConsoleUser.From(http.User);
        var tokens = antiforgery.GetAndStoreTokens(http);
        var html = new StringBuilder("<h1>Audit</h1>").Append(Html.Notice(notice, kind));
        var last = watch.Last;
        html.Append("<div class=\"card\" id=\"chain\">");
        if (last?.Verification is not { } verification)
            html.Append(last?.Error is { } failed
                ? $"<p>{Html.Badge("not verified", "warn")} The chain could not be read: {Html.E(failed)}</p>"
                : "<p id=\"chain-status\">" + Html.Badge("verifying", "warn") + " The first verification is running.</p>");
        else
        {
            html.Append("<p id=\"chain-status\">")
                .Append(verification.Intact ? Html.Badge("intact", "ok") : Html.Badge("broken", "broken"))
                .Append(verification.Intact
                    ? $" Every one of {Html.N(verification.RowsChecked)} rows matches its hash and follows the one before it."
                    : $" {verification.ProblemsFound} problem(s) in {Html.N(verification.RowsChecked)} rows.")
                .Append("</p><dl>")
                .Append($"<dt>Last verified</dt><dd id=\"verified-at\">{Html.When(last.At)} UTC, in {last.Took.TotalMilliseconds:0} ms, for {Html.E(last.RequestedBy)}</dd>")
                .Append($"<dt>Verified head</dt><dd id=\"head\">row #{Html.N(verification.HeadSeq)}, sha-256 <code>{Html.E(verification.HeadHash)}</code></dd>")
                .Append($"<dt>Anchors checked</dt><dd>{verification.AnchorsChecked}{(verification.AnchorsChecked == 0 ? " (none configured: Console:AnchorFile; a rewrite of the whole chain by the database's owner needs anchors to show)" : "")}</dd>");
            if (last.Error is { } error)
                html.Append($"<dt>Latest attempt</dt><dd>failed: {Html.E(error)}</dd>");
            html.Append("</dl>");
            if (verification.First is { } first)
            {
                html.Append($"<div class=\"notice error\" id=\"first-bad-row\">First bad row: #{Html.N(first.Seq)} ({Html.E(first.Kind.ToString().ToLowerInvariant())}")
                    .Append(first.EventType is { } type ? $", {Html.E(type)}" : "").Append(first.EventId is { } id ? $", event {id}" : "")
                    .Append($"): {Html.E(first.Detail)}</div>");
                html.Append("<table id=\"problems\"><thead><tr><th>row</th><th>kind</th><th>event</th><th>detail</th></tr></thead><tbody>");
                foreach (var problem in verification.Problems)
                    html.Append($"<tr><td>#{Html.N(problem.Seq)}</td><td>{Html.E(problem.Kind.ToString())}</td><td>{Html.E(problem.EventType)}</td><td>{Html.E(problem.Detail)}</td></tr>");
                html.Append("</tbody></table>");
            }
        }
        if (watch.InProgress)
            html.Append($"<p class=\"muted\" id=\"in-progress\">A verification is running now.</p>");
        if (user.MayAudit)
            html.Append($"<form method=\"post\" action=\"/audit/verify\">{Html.Antiforgery(tokens)}<button type=\"submit\" id=\"verify\" class=\"primary\">Verify now</button></form>");
        html.Append("<p class=\"muted\">The same check as <code>agentbus audit verify</code>: every row's hash recomputed, every link followed, in one snapshot.</p></div>");

        if (user.MayAudit)
        {
            var trail = await queries.OperatorTrailAsync(100, http.RequestAborted);
            html.Append("<h2>What operators did</h2><table id=\"trail\"><thead><tr><th>row</th><th>time (UTC)</th><th>who</th><th>action</th><th>on</th><th>reason</th></tr></thead><tbody>");
            foreach (var entry in trail)
            {
                var target = entry.AgentId ?? entry.Tool ?? entry.ActionId ?? entry.RunId;
                html.Append($"<tr><td>#{Html.N(entry.Seq)}</td><td>{Html.When(entry.At)}</td><td>{Html.E(entry.Actor)}</td><td>{Html.E(entry.Action)}</td>")
                    .Append($"<td>{Html.E(target)}</td><td>{Html.E(Html.Cut(Reason(entry.Payload), 200))}</td></tr>");
            }
            html.Append("</tbody></table>");
            if (trail.Count == 0)
                html.Append("<p class=\"muted\">No operator action recorded yet.</p>");
        }
        return Html.Ok(Html.Page("Audit", "/audit", user, tokens, html.ToString()));
    }

    static string? Reason(string payload)
    {
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(payload);
            return document.RootElement.TryGetProperty("reason", out var reason) && reason.ValueKind == System.Text.Json.JsonValueKind.String
                ? reason.GetString()
                : null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }
}
