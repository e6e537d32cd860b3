using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using AgentBus.Approvals.Api;
using AgentBus.Approvals.Approvers;
using AgentBus.Audit.Stories;
using Microsoft.AspNetCore.Antiforgery;

namespace AgentBus.Approvals.Inbox;

/// <summary>The inbox's HTML. Everything that comes from data is HTML-encoded; no script runs on the page.</summary>
static class InboxPage
{
    static readonly JsonSerializerOptions Pretty = new() { WriteIndented = true };

    const string Style = """
        body{font-family:system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
        header{background:#1d2330;color:#fff;padding:.8rem 1.5rem;display:flex;justify-content:space-between;align-items:center}
        header form{margin:0} main{max-width:60rem;margin:1.5rem auto;padding:0 1rem}
        .card{background:#fff;border:1px solid #d8dce3;border-radius:8px;padding:1rem 1.2rem;margin-bottom:1rem}
        .notice{padding:.7rem 1rem;border-radius:6px;margin-bottom:1rem}.ok{background:#e3f6e8;border:1px solid #7ac48d}
        .error{background:#fde8e8;border:1px solid #e08a8a} pre{background:#f0f2f5;padding:.6rem;overflow:auto;font-size:.85rem}
        dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}dd{margin:0}
        textarea{width:100%;min-height:3rem;box-sizing:border-box} button{padding:.4rem 1rem;margin-right:.5rem;border-radius:5px;border:1px solid #888;cursor:pointer}
        button.approve{background:#2f8f4e;color:#fff;border-color:#2f8f4e} button.deny{background:#b93a3a;color:#fff;border-color:#b93a3a}
        table{border-collapse:collapse;width:100%;font-size:.9rem}td,th{border-bottom:1px solid #e3e6eb;padding:.25rem .4rem;text-align:left}
        .muted{color:#667} tr.this-action{background:#fff7db}
        """;

    public static string SignIn(AntiforgeryTokenSet tokens, string? error)
    {
        var html = new StringBuilder();
        html.Append("<main><div class=\"card\"><h1>AgentBus approvals</h1>");
        if (error is not null)
            html.Append($"<div class=\"notice error\" role=\"alert\" id=\"notice\">{E(error)}</div>");
        html.Append("<form method=\"post\" action=\"/inbox/signin\">").Append(Antiforgery(tokens))
            .Append("<label for=\"token\">Approver token</label><br><input type=\"password\" id=\"token\" name=\"token\" size=\"60\" autocomplete=\"off\" required> ")
            .Append("<button type=\"submit\" id=\"signin\">Sign in</button></form>")
            .Append("<p class=\"muted\">Tokens come from <code>agentbus approvers add NAME --group GROUP</code>.</p></div></main>");
        return Page("Sign in", null, null, html.ToString());
    }

    public static string List(ApproverIdentity me, IReadOnlyList<ApprovalView> approvals, AntiforgeryTokenSet tokens, string? notice, bool ok)
    {
        var html = new StringBuilder("<main>");
        if (!string.IsNullOrEmpty(notice))
            html.Append($"<div class=\"notice {(ok ? "ok" : "error")}\" role=\"status\" id=\"notice\">{E(notice)}</div>");
        html.Append($"<h1>Waiting for you ({approvals.Count})</h1>");
        if (approvals.Count == 0)
            html.Append("<p class=\"muted\" id=\"empty\">Nothing is waiting for your groups.</p>");
        foreach (var approval in approvals)
            html.Append(Card(approval, tokens, storySteps: null));
        html.Append("</main>");
        return Page("Inbox", me, tokens, html.ToString());
    }

    public static string Detail(ApproverIdentity me, ApprovalView approval, AntiforgeryTokenSet tokens, int storySteps) =>
        Page($"Approval {approval.ApprovalId}", me, tokens, $"<main><p><a href=\"/inbox\">← Inbox</a></p>{Card(approval, tokens, storySteps)}</main>");

    public static string Message(ApproverIdentity me, string message, AntiforgeryTokenSet tokens) =>
        Page("Inbox", me, tokens, $"<main><p><a href=\"/inbox\">← Inbox</a></p><div class=\"notice error\" id=\"notice\">{E(message)}</div></main>");

    static string Card(ApprovalView a, AntiforgeryTokenSet tokens, int? storySteps)
    {
        var id = a.ApprovalId.ToString("D");
        var html = new StringBuilder($"<section class=\"card approval\" data-approval-id=\"{id}\">");
        html.Append($"<h2><a href=\"/inbox/{id}\">{E(a.Subject)}</a> by agent {E(a.AgentId)} <span class=\"muted\">({E(a.Status)})</span></h2>");
        if (!string.IsNullOrWhiteSpace(a.Intent))
            html.Append($"<p><strong>Why:</strong> {E(a.Intent)}</p>");
        html.Append("<dl>")
            .Append(Row("Agent", $"{a.AgentId} (team {a.AgentTeam})"))
            .Append(Row("Requested by", a.RequestedBy))
            .Append(Row("Rule", $"{a.RuleId}: {a.Quorum} approver(s) from {a.ApproverGroup}" + (a.EscalationGroup is { } g ? $", escalates to {g}" : "")))
            .Append(Row("Approvals", a.Approvers.Count == 0 ? $"none yet of {a.Quorum}" : $"{string.Join(", ", a.Approvers)} ({a.Approvers.Count} of {a.Quorum})"))
            .Append(Row("Time left", a.SecondsLeft > 0 ? $"{Duration(a.SecondsLeft)} (until {a.ExpiresAt.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC)" : "none"))
            .Append(Row("Run", a.RunId))
            .Append(Row("Action", a.ActionId))
            .Append("</dl>");

        if (a.Changes is { Count: > 0 } changes)
        {
            html.Append("<h3>Changes</h3><table class=\"diff\"><tr><th>field</th><th>change</th><th>before</th><th>after</th></tr>");
            foreach (var c in changes)
                html.Append($"<tr><td><code>{E(c.Path)}</code></td><td>{E(c.Kind)}</td><td><code>{E(c.Before ?? "")}</code></td><td><code>{E(c.After ?? "")}</code></td></tr>");
            html.Append("</table>");
        }
        html.Append($"<h3>Arguments</h3><pre>{E(a.Arguments?.ToJsonString(Pretty) ?? "{}")}</pre>");

        if (storySteps is { } limit)
            html.Append(Story(a, a.Story, limit));

        if (a.CanVote)
        {
            html.Append($"<form method=\"post\" class=\"vote\">{Antiforgery(tokens)}")
                .Append($"<label for=\"comment-{id}\">Comment</label><textarea id=\"comment-{id}\" name=\"comment\" maxlength=\"{ApprovalEndpoints.MaxCommentLength}\"></textarea><p>")
                .Append($"<button type=\"submit\" class=\"approve\" formaction=\"/inbox/{id}/approve\">Approve</button>")
                .Append($"<button type=\"submit\" class=\"deny\" formaction=\"/inbox/{id}/deny\">Deny</button></p></form>");
        }
        else if (a.CannotVoteReason is { } reason)
            html.Append($"<p class=\"muted cannot-vote\">{E(reason)}</p>");
        html.Append("</section>");
        return html.ToString();
    }

    /// <summary>The run so far, from the audit: every action and its steps, this approval's action marked.</summary>
    static string Story(ApprovalView a, RunStory? story, int limit)
    {
        var html = new StringBuilder("<h3>The run so far</h3>");
        if (story is null)
            return html.Append("<p class=\"muted\" id=\"story\">Nothing recorded for this run yet.</p>").ToString();

        var t = story.Totals;
        html.Append($"<p class=\"muted\" id=\"story\">Run {E(story.RunId)}: {E(story.Status)} since {story.StartedAt.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC; " +
                    $"{t.Actions} action(s): {t.Allowed} allowed, {t.Denied} denied, {t.PendingApproval} awaiting approval, {t.Succeeded} succeeded, " +
                    $"{t.Failed} failed; cost ${t.CostUsd.ToString("0.00####", CultureInfo.InvariantCulture)}.</p>");
        html.Append("<table class=\"story\"><tr><th>when (UTC)</th><th>action</th><th>step</th><th>result</th><th>detail</th></tr>");
        var shown = 0;
        var total = story.Actions.Sum(x => x.Steps.Count);
        foreach (var action in story.Actions)
        {
            var mine = action.ActionId == a.ActionId;
            foreach (var step in action.Steps)
            {
                if (shown++ >= limit)
                    break;
                var detail = string.Join(" · ", new[]
                {
                    step.Actor is { } actor ? $"by {actor}" : null,
                    step.ReasonCode,
                    step.RuleId is { } rule ? $"rule {rule}" : null,
                    step.ExternalReference is { } reference ? $"ref {reference}" : null,
                }.Where(x => !string.IsNullOrEmpty(x)));
                html.Append($"<tr{(mine ? " class=\"this-action\"" : "")}><td>{step.At.UtcDateTime:HH:mm:ss}</td>" +
                            $"<td>{E(action.Tool ?? "")} <span class=\"muted\">{E(action.ActionId[..Math.Min(8, action.ActionId.Length)])}</span>{(mine ? " (this one)" : "")}</td>" +
                            $"<td>{E(step.EventType)}</td><td>{E(step.Outcome)}</td><td>{E(detail)}</td></tr>");
            }
        }
        html.Append("</table>");
        if (total > limit)
            html.Append($"<p class=\"muted\">{total - limit} more step(s): <code>agentbus runs show {E(story.RunId)}</code>.</p>");
        return html.ToString();
    }

    static string Page(string title, ApproverIdentity? me, AntiforgeryTokenSet? tokens, string body)
    {
        var header = me is null || tokens is null
            ? "<header><strong>AgentBus approvals</strong></header>"
            : $"<header><strong>AgentBus approvals</strong><span>{E(me.Name)} <span class=\"muted\">({E(string.Join(", ", me.Groups))})</span></span>" +
              $"<form method=\"post\" action=\"/inbox/signout\">{Antiforgery(tokens)}<button type=\"submit\">Sign out</button></form></header>";
        return $"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">" +
               $"<title>{E(title)} · AgentBus</title><style>{Style}</style></head><body>{header}{body}</body></html>";
    }

    static string Row(string name, string value) => $"<dt>{E(name)}</dt><dd>{E(value)}</dd>";

    static string Antiforgery(AntiforgeryTokenSet tokens) =>
        $"<input type=\"hidden\" name=\"{E(tokens.FormFieldName)}\" value=\"{E(tokens.RequestToken ?? "")}\">";

    static string Duration(long seconds) =>
        seconds >= 3600 ? string.Create(CultureInfo.InvariantCulture, $"{seconds / 3600}h {seconds % 3600 / 60}m")
        : seconds >= 60 ? string.Create(CultureInfo.InvariantCulture, $"{seconds / 60}m {seconds % 60}s")
        : string.Create(CultureInfo.InvariantCulture, $"{seconds}s");

    static string E(string text) => HtmlEncoder.Default.Encode(text);
}
