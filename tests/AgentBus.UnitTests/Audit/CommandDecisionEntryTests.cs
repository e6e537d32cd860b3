using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.Projections.Audit;

namespace AgentBus.UnitTests.Audit;

public class CommandDecisionEntryTests
{
    static readonly DateTimeOffset Authorized = new(2026, 12, 4, 10, 0, 0, TimeSpan.Zero);

    static ExecuteTool Command(PolicyAllowance? allowance, string? approvalId = null) =>
        new("a-1", "run-1", "support-bot", "ticketing", JsonSerializer.SerializeToElement(new { title = "x" }), "sha256:00", null, Authorized,
            new ToolAuthorization("k1", approvalId, Authorized.AddMinutes(5), "sig"), Allowance: allowance);

    [Fact]
    public void A_command_allowed_at_once_records_the_decision_first_under_the_id_the_policy_gives_that_decision()
    {
        var allowance = new PolicyAllowance(ReasonCodes.Allowed, "Grant 'g' lets agent 'support-bot' use tool 'ticketing'.", "g", "sha256:abc");

        var entries = AuditEntry.WithDecision(Guid.NewGuid(), Command(allowance)).ToList();

        Assert.Equal([nameof(ActionDecided), nameof(ExecuteTool)], entries.Select(e => e.EventType));
        var decided = entries[0];
        // A re-sent proposal's decision message carries this id, so the audit keeps one decision.
        Assert.Equal(MessageIds.ActionDecided("support-bot", "a-1"), decided.EventId);
        Assert.Equal(("allowed", ReasonCodes.Allowed, "g", "sha256:abc", Actors.Policy), (decided.Outcome, decided.ReasonCode, decided.RuleId, decided.PolicyVersion, decided.Actor));
        Assert.Equal(Authorized, decided.OccurredAt);
        Assert.Equal(new RunChange(Allowed: 1), decided.Change);
        Assert.Equal(new RunChange(Authorized: 1), entries[1].Change);
    }

    [Fact]
    public void A_command_after_an_approval_records_only_the_authorization_since_the_final_decision_is_its_own_message()
    {
        var entries = AuditEntry.WithDecision(Guid.NewGuid(), Command(allowance: null, approvalId: "ap-1")).ToList();

        Assert.Equal([nameof(ExecuteTool)], entries.Select(e => e.EventType));
    }
}
