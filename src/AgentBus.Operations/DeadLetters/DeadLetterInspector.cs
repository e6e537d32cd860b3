namespace AgentBus.Operations.DeadLetters;

public sealed record FailureGroup(
    string GroupId,
    string Failure,
    string MessageType,
    int Count,
    DateTimeOffset? Oldest,
    DateTimeOffset? Newest,
    string? Example);

public sealed record DeadLetterQueueSummary(string Queue, long Messages, int Scanned, DateTimeOffset? Oldest, IReadOnlyList<FailureGroup> Groups);

/// <summary>Reads dead-letter queues without changing them: every message read goes back where it was.</summary>
public static class DeadLetterInspector
{
    public static async Task<IReadOnlyList<DeadLetterQueueSummary>> ListAsync(OperatorBroker broker, int scanLimit, CancellationToken ct)
    {
        var summaries = new List<DeadLetterQueueSummary>();
        foreach (var queue in await broker.ListDeadLetterQueuesAsync(ct))
        {
            var messages = new List<DeadLetter>();
            if (queue.Messages > 0)
            {
                await using var session = await broker.OpenAsync(queue.Name, ct);
                while (messages.Count < scanLimit && await session.NextAsync(ct) is { } message)
                    messages.Add(message);
            }
            summaries.Add(new(queue.Name, queue.Messages, messages.Count, messages.Min(m => m.FaultedAt), Group(messages)));
        }
        return summaries;
    }

    public static IReadOnlyList<FailureGroup> Group(IEnumerable<DeadLetter> messages) =>
        messages.GroupBy(m => (m.Failure, m.MessageType))
            .Select(g => new FailureGroup(DeadLetter.GroupIdFor(g.Key.Failure, g.Key.MessageType), g.Key.Failure, g.Key.MessageType, g.Count(),
                g.Min(m => m.FaultedAt), g.Max(m => m.FaultedAt), g.Select(m => m.ExceptionMessage).FirstOrDefault(e => e is not null)))
            .OrderByDescending(g => g.Count)
            .ThenBy(g => g.GroupId, StringComparer.Ordinal)
            .ToList();

    /// <summary>Up to <paramref name="limit"/> messages of the queue (of one group, if given), in queue order, and how many the queue holds.</summary>
    public static async Task<(long Total, IReadOnlyList<DeadLetter> Messages)> ShowAsync(OperatorBroker broker, string queue, string? groupId,
        int limit, CancellationToken ct)
    {
        var shown = new List<DeadLetter>();
        await using var session = await broker.OpenAsync(queue, ct);
        while (shown.Count < limit && await session.NextAsync(ct) is { } message)
            if (groupId is null || message.GroupId == groupId)
                shown.Add(message);
        return (session.MessagesAtStart, shown);
    }
}
