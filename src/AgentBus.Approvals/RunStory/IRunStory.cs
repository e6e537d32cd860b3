namespace AgentBus.Approvals.RunStory;

public sealed record RunStoryEntry(long Seq, string EventType, string? ActionId, string? AgentId, string? Tool, string Outcome, string? ReasonCode, DateTimeOffset OccurredAt);

/// <summary>The run an approval belongs to, so far, oldest first: what approvers read before they decide.</summary>
public interface IRunStory
{
    Task<IReadOnlyList<RunStoryEntry>> ForRunAsync(string runId, int limit, CancellationToken cancellationToken);
}
