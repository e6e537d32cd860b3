using AgentBus.Approvals.Approvers;
using AgentBus.Audit.Stories;
using AgentBus.Contracts;

namespace AgentBus.Approvals.Api;

public sealed record VoteRequest(string? Comment);

/// <summary>
/// The approvers' HTTP API. Every call carries a bearer token. 401: no or bad token; 403: not in the
/// approval's group, or separation of duties; 404: no such approval; 409: already decided, expired,
/// cancelled or consumed, or you already voted the other way; 200: the vote counted, or repeats one
/// that did (same approver, same verdict: same result); 400: bad input; 503: the saga did not answer.
/// </summary>
public static class ApprovalEndpoints
{
    public const int MaxCommentLength = 2000;

    public static IEndpointRouteBuilder MapApprovalApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/approvals").RequireAuthorization(ApproverAuthentication.ApiPolicy);
        api.MapGet("/", ListAsync);
        api.MapGet("/{id:guid}", GetAsync);
        api.MapGet("/{id:guid}/story", StoryAsync);
        api.MapPost("/{id:guid}/approve", (Guid id, VoteRequest? body, HttpContext http, ApprovalVoting voting) =>
            VoteAsync(id, ApprovalVerdict.Approve, body, http, voting));
        api.MapPost("/{id:guid}/deny", (Guid id, VoteRequest? body, HttpContext http, ApprovalVoting voting) =>
            VoteAsync(id, ApprovalVerdict.Deny, body, http, voting));
        return app;
    }

    static async Task<IResult> ListAsync(HttpContext http, ApprovalReadStore store, TimeProvider clock, CancellationToken ct)
    {
        var me = ApproverIdentity.From(http.User);
        var now = clock.GetUtcNow();
        var open = await store.OpenForGroupsAsync(me.Groups, 500, ct);
        return Results.Ok(new { approver = me.Name, groups = me.Groups, approvals = open.Select(s => ApprovalView.From(s, me, now, null)) });
    }

    static async Task<IResult> GetAsync(Guid id, HttpContext http, ApprovalReadStore store, RunStoryQuery stories, TimeProvider clock, CancellationToken ct)
    {
        var me = ApproverIdentity.From(http.User);
        var approval = await store.FindAsync(id, ct);
        if (approval is null)
            return Problem(404, ApprovalReasonCodes.UnknownApproval, "No such approval.");
        if (!ApprovalView.Visible(approval, me))
            return Problem(403, ApprovalReasonCodes.NotInGroup, $"Only members of '{approval.ApproverGroup}' may see this approval.");
        var story = await stories.GetAsync(approval.RunId, ct);
        return Results.Ok(ApprovalView.From(approval, me, clock.GetUtcNow(), story));
    }

    /// <summary>The run this approval belongs to, as the audit tells it: the JSON of `agentbus runs show RUN --json` (404 while the audit has nothing).</summary>
    static async Task<IResult> StoryAsync(Guid id, HttpContext http, ApprovalReadStore store, RunStoryQuery stories, CancellationToken ct)
    {
        var me = ApproverIdentity.From(http.User);
        var approval = await store.FindAsync(id, ct);
        if (approval is null)
            return Problem(404, ApprovalReasonCodes.UnknownApproval, "No such approval.");
        if (!ApprovalView.Visible(approval, me))
            return Problem(403, ApprovalReasonCodes.NotInGroup, $"Only members of '{approval.ApproverGroup}' may see this approval.");
        return await stories.GetAsync(approval.RunId, ct) is { } story
            ? Results.Ok(story)
            : Problem(404, "unknown_run", $"The audit has recorded nothing of run '{approval.RunId}' yet.");
    }

    static async Task<IResult> VoteAsync(Guid id, ApprovalVerdict verdict, VoteRequest? body, HttpContext http, ApprovalVoting voting)
    {
        if (body?.Comment is { Length: > MaxCommentLength })
            return Problem(400, "comment_too_long", $"A comment is at most {MaxCommentLength} characters.");
        try
        {
            var result = await voting.CastAsync(id, ApproverIdentity.From(http.User), verdict, body?.Comment, http.RequestAborted);
            var status = ApprovalVoting.StatusCode(result.Outcome);
            return status == 200 ? Results.Ok(result) : Problem(status, result.ReasonCode, result.Reason, result);
        }
        catch (ApprovalServiceBusyException ex)
        {
            http.Response.Headers.RetryAfter = "2";
            return Problem(503, "approvals_busy", ex.Message);
        }
    }

    static IResult Problem(int status, string code, string detail, ApprovalVoteResult? result = null) =>
        Results.Problem(statusCode: status, title: code, detail: detail, extensions: new Dictionary<string, object?>
        {
            ["reasonCode"] = code,
            ["approvalStatus"] = result?.Status,
            ["approvers"] = result?.Approvers,
        });
}
