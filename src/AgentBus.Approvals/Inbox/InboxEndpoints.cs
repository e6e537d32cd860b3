using System.Security.Claims;
using AgentBus.Approvals.Api;
using AgentBus.Approvals.Approvers;
using AgentBus.Audit.Stories;
using AgentBus.Contracts;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace AgentBus.Approvals.Inbox;

/// <summary>
/// The approvers' inbox: a server-rendered page on the approvals service. Sign in once with an approver
/// token (then a cookie session, re-checked on every request), see what waits for your groups, approve
/// or deny with a comment. Every form carries an antiforgery token; every answer is redirected back to
/// the inbox with a notice (post/redirect/get), so a reload never votes twice.
/// </summary>
public static class InboxEndpoints
{
    public static IEndpointRouteBuilder MapInbox(this IEndpointRouteBuilder app)
    {
        app.MapGet("/", () => Results.Redirect("/inbox"));
        app.MapGet("/inbox/signin", (HttpContext http, IAntiforgery antiforgery) => Html(InboxPage.SignIn(antiforgery.GetAndStoreTokens(http), null)));
        app.MapPost("/inbox/signin", SignInAsync);
        app.MapPost("/inbox/signout", (Delegate)SignOutAsync).RequireAuthorization(ApproverAuthentication.InboxPolicy);

        var inbox = app.MapGroup("/inbox").RequireAuthorization(ApproverAuthentication.InboxPolicy);
        inbox.MapGet("/", ListAsync);
        inbox.MapGet("/{id:guid}", DetailAsync);
        inbox.MapPost("/{id:guid}/approve", (Guid id, [FromForm] string? comment, HttpContext http, ApprovalVoting voting) =>
            VoteAsync(id, ApprovalVerdict.Approve, comment, http, voting));
        inbox.MapPost("/{id:guid}/deny", (Guid id, [FromForm] string? comment, HttpContext http, ApprovalVoting voting) =>
            VoteAsync(id, ApprovalVerdict.Deny, comment, http, voting));
        return app;
    }

    static async Task<IResult> SignInAsync([FromForm] string? token, HttpContext http, ApproverStore store, AgentNames agents, IAntiforgery antiforgery)
    {
        var approver = string.IsNullOrWhiteSpace(token) ? null : await store.AuthenticateAsync(token.Trim(), http.RequestAborted);
        if (approver is null)
            return Html(InboxPage.SignIn(antiforgery.GetAndStoreTokens(http), "That token is not valid (unknown, mistyped or revoked)."), 401);
        if (agents.AgentNamed(approver.Name) is not null)
            return Html(InboxPage.SignIn(antiforgery.GetAndStoreTokens(http), $"'{approver.Name}' is an agent's name; an agent's name is never an approver."), 403);

        var identity = ApproverIdentity.ToIdentity(approver.Name, approver.Groups, ApproverAuthentication.InboxScheme, approver.TokenIssuedAt);
        await http.SignInAsync(ApproverAuthentication.InboxScheme, new ClaimsPrincipal(identity));
        return Results.Redirect("/inbox");
    }

    static async Task<IResult> SignOutAsync(HttpContext http)
    {
        await http.SignOutAsync(ApproverAuthentication.InboxScheme);
        return Results.Redirect("/inbox/signin");
    }

    static async Task<IResult> ListAsync(HttpContext http, ApprovalReadStore store, TimeProvider clock, IAntiforgery antiforgery,
        [FromQuery] string? notice, [FromQuery] string? kind)
    {
        var me = ApproverIdentity.From(http.User);
        var now = clock.GetUtcNow();
        var open = await store.OpenForGroupsAsync(me.Groups, 200, http.RequestAborted);
        var views = open.Select(s => ApprovalView.From(s, me, now, null)).ToList();
        return Html(InboxPage.List(me, views, antiforgery.GetAndStoreTokens(http), notice, kind == "ok"));
    }

    static async Task<IResult> DetailAsync(Guid id, HttpContext http, ApprovalReadStore store, RunStoryQuery stories, TimeProvider clock,
        IAntiforgery antiforgery, IOptions<ApprovalsOptions> options)
    {
        var me = ApproverIdentity.From(http.User);
        var approval = await store.FindAsync(id, http.RequestAborted);
        if (approval is null)
            return Html(InboxPage.Message(me, "No such approval.", antiforgery.GetAndStoreTokens(http)), 404);
        if (!ApprovalView.Visible(approval, me))
            return Html(InboxPage.Message(me, $"Only members of '{approval.ApproverGroup}' may see this approval.", antiforgery.GetAndStoreTokens(http)), 403);
        var story = await stories.GetAsync(approval.RunId, http.RequestAborted);
        return Html(InboxPage.Detail(me, ApprovalView.From(approval, me, clock.GetUtcNow(), story), antiforgery.GetAndStoreTokens(http),
            options.Value.StoryLimit));
    }

    static async Task<IResult> VoteAsync(Guid id, ApprovalVerdict verdict, string? comment, HttpContext http, ApprovalVoting voting)
    {
        if (comment is { Length: > ApprovalEndpoints.MaxCommentLength })
            return Back(false, $"A comment is at most {ApprovalEndpoints.MaxCommentLength} characters.");
        try
        {
            var result = await voting.CastAsync(id, ApproverIdentity.From(http.User), verdict, comment, http.RequestAborted);
            var ok = ApprovalVoting.StatusCode(result.Outcome) == 200;
            return Back(ok, ok ? $"{(verdict == ApprovalVerdict.Approve ? "Approved" : "Denied")}: {result.Reason} (now {result.Status})" : result.Reason);
        }
        catch (ApprovalServiceBusyException ex)
        {
            return Back(false, ex.Message);
        }
    }

    static IResult Back(bool ok, string notice) =>
        Results.Redirect($"/inbox?kind={(ok ? "ok" : "error")}&notice={Uri.EscapeDataString(notice)}");

    static IResult Html(string body, int status = 200) => Results.Content(body, "text/html; charset=utf-8", statusCode: status);
}
