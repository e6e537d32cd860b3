using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.Projections.Audit;

namespace AgentBus.UnitTests.Audit;

public class OutcomeStartEntryTests
{
    static readonly DateTimeOffset Started = new(2026, 12, 3, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void An_outcome_of_a_call_records_its_start_first_under_the_id_executors_published_it_with()
    {
        var outcome = new ActionSucceeded("a-1", "run-1", "support-bot", "ticketing", JsonSerializer.SerializeToElement(new { status = 201 }),
            "TCK-1", 0.002m, 14, 1, Started.AddMilliseconds(14), "ticketing@host:1:abc", Started);

        var entries = AuditEntry.WithStart(Guid.NewGuid(), outcome).ToList();

        Assert.Equal([nameof(ExecutionStarted), nameof(ActionSucceeded)], entries.Select(e => e.EventType));
        var start = entries[0];
        Assert.Equal(MessageIds.ExecutionStarted("support-bot", "a-1", "ticketing"), start.EventId);
        Assert.Equal(("started", "ticketing@host:1:abc", Started), (start.Outcome, start.Actor, start.OccurredAt));
    }

    [Fact]
    public void A_refusal_before_any_claim_records_no_start()
    {
        var refusal = new ActionFailed("a-2", "run-1", "support-bot", "ticketing", ExecutionErrorCodes.AuthorizationExpired, "expired before any claim",
            OutcomeUnknown: false, DurationMs: 0, Attempts: 0, FailedAt: Started, Refused: true);

        Assert.Equal([nameof(ActionFailed)], AuditEntry.WithStart(Guid.NewGuid(), refusal).Select(e => e.EventType));
    }
}
