using AgentBus.ServiceDefaults.Messaging;

namespace AgentBus.Operations.DeadLetters;

public sealed record PurgedMessage(DeadLetter Message, long? ArchiveId);

public sealed record PurgeReport(string Queue, IReadOnlyList<PurgedMessage> Messages, IReadOnlyList<Guid> AuditEventIds)
{
    public int Purged => Messages.Count(m => m.ArchiveId is not null);
}

/// <summary>
/// Takes dead letters off their queue into the archive table: archived (committed), then recorded
/// in the audit, then acknowledged, batch by batch. Interrupted anywhere, nothing is lost: an
/// unacknowledged message returns to its queue, and purging it again finds its archive row.
/// </summary>
public sealed class DeadLetterPurger(DeadLetterArchive archive, TimeProvider clock)
{
    public async Task<PurgeReport> PurgeAsync(OperatorBroker broker, string queue, DeadLetterSelection selection, string operatorName,
        string reason, bool dryRun, Action<PurgedMessage>? progress, CancellationToken ct, int batchSize = 100)
    {
        if (string.IsNullOrWhiteSpace(reason))
            throw new ArgumentException("A purge needs a reason (--reason): it is kept with every archived message and in the audit.");

        var results = new List<PurgedMessage>();
        var auditIds = new List<Guid>();
        var batch = new List<DeadLetter>();
        await using var session = await broker.OpenAsync(queue, ct);

        async Task Flush(CancellationToken token)
        {
            if (batch.Count == 0)
                return;
            var ids = await archive.ArchiveAsync(batch, reason, operatorName, token);
            auditIds.Add(await OperatorAudit.RecordAsync(session, operatorName, "dlq.purge", reason, batch, new
            {
                Queue = queue,
                Selection = selection.ToString(),
                MessageIds = batch.Select(m => m.Key).ToList(),
                ActionIds = batch.Select(m => m.ActionId).OfType<string>().Distinct().ToList(),
                ArchiveIds = ids,
                BrokerUser = BrokerIdentity.OperatorUser,
            }, clock, token));
            for (var i = 0; i < batch.Count; i++)
            {
                await session.AckAsync(batch[i], token);
                var done = new PurgedMessage(batch[i], ids[i]);
                results.Add(done);
                progress?.Invoke(done);
            }
            batch.Clear();
        }

        while (await session.NextAsync(ct) is { } message)
        {
            if (!selection.Matches(message))
                continue;
            if (dryRun)
            {
                var planned = new PurgedMessage(message, null);
                results.Add(planned);
                progress?.Invoke(planned);
                continue;
            }
            batch.Add(message);
            if (batch.Count >= batchSize)
                await Flush(ct);
        }
        await Flush(ct);
        return new PurgeReport(queue, results, auditIds);
    }
}
