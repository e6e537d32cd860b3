using AgentBus.Approvals.Approvers;
using AgentBus.Contracts;
using MassTransit;
using Microsoft.Extensions.Options;

namespace AgentBus.Approvals.Api;

public sealed class ApprovalServiceBusyException(string message, Exception inner) : Exception(message, inner);

/// <summary>Hands an approver's verdict to the approval saga and waits for its decision (the saga is the only place that decides).</summary>
public sealed class ApprovalVoting(IRequestClient<ApprovalVoteCast> client, TimeProvider clock, IOptions<ApprovalsOptions> options)
{
    public async Task<ApprovalVoteResult> CastAsync(Guid approvalId, ApproverIdentity approver, ApprovalVerdict verdict, string? comment,
        CancellationToken cancellationToken)
    {
        var vote = new ApprovalVoteCast(approvalId, NewId.NextGuid(), approver.Name, approver.Groups, verdict, comment, clock.GetUtcNow());
        try
        {
            var response = await client.GetResponse<ApprovalVoteResult>(vote, cancellationToken, RequestTimeout.After(ms: (int)options.Value.VoteTimeout.TotalMilliseconds));
            return response.Message;
        }
        catch (RequestTimeoutException ex)
        {
            throw new ApprovalServiceBusyException("The approval saga did not answer in time; the vote may still be recorded. Retry: a repeat is harmless.", ex);
        }
    }

    public static int StatusCode(ApprovalVoteOutcome outcome) => outcome switch
    {
        ApprovalVoteOutcome.Recorded or ApprovalVoteOutcome.Repeated => StatusCodes.Status200OK,
        ApprovalVoteOutcome.Forbidden => StatusCodes.Status403Forbidden,
        ApprovalVoteOutcome.NotFound => StatusCodes.Status404NotFound,
        _ => StatusCodes.Status409Conflict,
    };
}
