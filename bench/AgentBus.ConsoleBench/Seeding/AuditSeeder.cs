using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.Projections.Audit;
using AgentBus.ServiceDefaults.Messaging;

namespace AgentBus.ConsoleBench.Seeding;

/// <summary>
/// Turns each message into the audit entry the projections make of it (AuditEntry.From, the same event ids
/// the services give their messages) and appends them through the projections' AuditStore, which redacts,
/// numbers, hash-chains, COPYs and updates the run summaries exactly as in production. The store stamps
/// recorded_at from its clock, so the clock is moved to just after the events of each batch.
/// </summary>
sealed class AuditSeeder(AuditStore store, SeedClock clock)
{
    const int EventsPerBatch = 4_000;

    public async Task<long> AppendAsync(IReadOnlyList<SeededRun> runs, CancellationToken ct)
    {
        long written = 0;
        var batch = new List<AuditEntry>(EventsPerBatch + 64);
        var latest = DateTimeOffset.MinValue;
        foreach (var run in runs)
        {
            foreach (var entry in Entries(run))
            {
                batch.Add(entry);
                if (entry.OccurredAt > latest)
                    latest = entry.OccurredAt;
            }
            if (batch.Count >= EventsPerBatch)
                written += await FlushAsync(batch, latest, ct);
        }
        if (batch.Count > 0)
            written += await FlushAsync(batch, latest, ct);
        return written;
    }

    async Task<int> FlushAsync(List<AuditEntry> batch, DateTimeOffset latest, CancellationToken ct)
    {
        clock.Now = latest + TimeSpan.FromMilliseconds(150);
        var written = await store.AppendAsync(batch, ct);
        if (written != batch.Count)
            throw new InvalidOperationException($"The audit store wrote {written} of {batch.Count} events: an event id repeats.");
        batch.Clear();
        return written;
    }

    static IEnumerable<AuditEntry> Entries(SeededRun run)
    {
        foreach (var action in run.Actions)
        {
            var p = action.Proposal;
            var proposalAudit = Ingress(p.AgentId, action.ProposalMessageId, p, nameof(ActionProposed));
            yield return new AuditEntry(proposalAudit.EventId, nameof(ActionProposed), p.ActionId, p.RunId, p.AgentId, p.Tool, "proposed", null,
                proposalAudit.Body, action.ProposedAt + TimeSpan.FromMilliseconds(4), new RunChange(Proposed: 1))
            {
                Actor = p.AgentId,
                CorrelationId = action.ProposalMessageId,
            };
            if (action.ApprovalRequested is { } requested)
                yield return AuditEntry.From(MessageIds.For(requested.ApprovalId.ToString("D"), nameof(ApprovalRequested)), requested);
            yield return AuditEntry.From(MessageIds.ActionDecided(p.AgentId, p.ActionId), action.Decided) with { CorrelationId = action.ProposalMessageId };
            if (action.Vote is { } vote)
                yield return AuditEntry.From(MessageIds.For($"{vote.ApprovalId:D}:{vote.Approver}", nameof(ApprovalVoteRecorded)), vote);
            if (action.ApprovalDenied is { } denied)
                yield return AuditEntry.From(MessageIds.For(denied.ApprovalId.ToString("D"), nameof(ApprovalDenied)), denied);
            if (action.Granted is { } granted)
                yield return AuditEntry.From(MessageIds.For(granted.ApprovalId.ToString("D"), nameof(ApprovalGranted)), granted);
            if (action.Consumed is { } consumed)
                yield return AuditEntry.From(MessageIds.For($"{consumed.ApprovalId:D}\n{consumed.ConsumptionId:D}", nameof(ApprovalConsumed)), consumed);
            if (action.FinalDecision is { } final)
                yield return AuditEntry.From(MessageIds.FinalDecision(p.AgentId, p.ActionId), final);
            if (action.Authorized is { } authorized)
                yield return AuditEntry.From(MessageIds.ExecuteTool(p.AgentId, p.ActionId), authorized);
            var outcomeId = MessageIds.ActionOutcome(p.AgentId, p.ActionId, p.Tool);
            var outcome = action.Succeeded is { } succeeded ? AuditEntry.WithStart(outcomeId, succeeded)
                : action.Failed is { } failed ? AuditEntry.WithStart(outcomeId, failed)
                : [];
            foreach (var entry in outcome)
                yield return entry;
        }

        if (run.Report is { } report)
        {
            var reportAudit = Ingress(report.AgentId, run.ReportMessageId, report, nameof(RunCompleted));
            yield return new AuditEntry(reportAudit.EventId, nameof(RunCompleted), null, report.RunId, report.AgentId, null,
                report.Succeeded ? "succeeded" : "failed", null, reportAudit.Body, run.ReportedAt,
                new RunChange(Completion: new RunCompletion(report.Succeeded, report.Summary, run.ReportedAt)))
            {
                Actor = report.AgentId,
                CorrelationId = run.ReportMessageId,
            };
        }
    }

    /// <summary>An agent's message as the projections' ingress sees it: the body as sent, its id namespaced by the validated sender.</summary>
    static (Guid EventId, string Body) Ingress<T>(string sender, string messageId, T message, string step)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(message, WireJson.Options);
        var bodyHash = Convert.ToHexStringLower(SHA256.HashData(body));
        return (MessageIds.For($"{sender}\n{messageId}\n{bodyHash}", step), Encoding.UTF8.GetString(body));
    }
}

/// <summary>The audit store's clock, set by the seeder: what was recorded a month ago says so.</summary>
sealed class SeedClock : TimeProvider
{
    public DateTimeOffset Now { get; set; } = DateTimeOffset.UtcNow;

    public override DateTimeOffset GetUtcNow() => Now;
}
