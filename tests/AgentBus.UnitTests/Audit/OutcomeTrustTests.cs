using AgentBus.Contracts;
using AgentBus.Projections.Audit;

namespace AgentBus.UnitTests.Audit;

public class OutcomeTrustTests
{
    static ActionFailed Failure(string tool, string errorCode, bool refused) =>
        new("a-1", "run-1", "support-bot", tool, errorCode, "x", false, 0, 0, DateTimeOffset.UnixEpoch, refused);

    [Theory]
    [InlineData("agentbus-executor-payments", SenderTrust.Trusted)]
    [InlineData("agentbus-policy", SenderTrust.Trusted)]
    [InlineData("agentbus-executor-ticketing", SenderTrust.Untrusted)]
    [InlineData("support-bot", SenderTrust.Untrusted)]
    [InlineData(null, SenderTrust.Untrusted)]
    public void Only_the_named_tools_executors_and_policy_speak_for_an_outcome(string? sender, SenderTrust expected)
    {
        Assert.Equal(expected, OutcomeTrust.Of(Failure("payments", "http_500", refused: false), sender));
        Assert.Equal(expected, OutcomeTrust.Of("payments", sender));
    }

    [Fact]
    public void Any_executor_may_refuse_a_command_it_was_wrongly_given_but_only_in_its_own_name()
    {
        Assert.Equal(SenderTrust.TrustedAsSender, OutcomeTrust.Of(Failure("payments", ExecutionErrorCodes.WrongTool, refused: true), "agentbus-executor-ticketing"));
        Assert.Equal(SenderTrust.Untrusted, OutcomeTrust.Of(Failure("payments", ExecutionErrorCodes.WrongTool, refused: true), "support-bot"));
        // A refusal that would end the action is the named tool's executors' alone.
        Assert.Equal(SenderTrust.Untrusted, OutcomeTrust.Of(Failure("payments", ReasonCodes.AgentSuspended, refused: true), "agentbus-executor-ticketing"));
    }

    [Theory]
    [InlineData("agentbus-policy", SenderTrust.Trusted)]
    [InlineData("agentbus-executor-payments", SenderTrust.Untrusted)]
    [InlineData("agentbus-operator", SenderTrust.Untrusted)]
    [InlineData(null, SenderTrust.Untrusted)]
    public void Only_the_policy_service_speaks_for_an_operators_resolution(string? sender, SenderTrust expected)
    {
        var succeeded = new ActionSucceeded("a-1", "run-1", "support-bot", "payments", System.Text.Json.JsonDocument.Parse("{}").RootElement, null, 0.01m,
            0, 1, DateTimeOffset.UnixEpoch, ResolvedBy: "alice", Evidence: "seen");
        var failed = Failure("payments", ExecutionErrorCodes.ResolvedFailed, refused: false) with { ResolvedBy = "alice", Evidence = "not seen" };

        Assert.Equal(expected, OutcomeTrust.Of(succeeded, sender));
        Assert.Equal(expected, OutcomeTrust.Of(failed, sender));
    }

    [Fact]
    public void A_resolution_names_the_operator_and_moves_the_run_from_outcome_unknown()
    {
        var succeeded = AuditEntry.From(Guid.NewGuid(), new ActionSucceeded("a-1", "run-1", "support-bot", "payments",
            System.Text.Json.JsonDocument.Parse("{}").RootElement, "RF-1", 0.01m, 0, 1, DateTimeOffset.UnixEpoch, ResolvedBy: "alice", Evidence: "seen"));
        var failed = AuditEntry.From(Guid.NewGuid(),
            Failure("payments", ExecutionErrorCodes.ResolvedFailed, refused: false) with { ResolvedBy = "bob", Evidence = "not seen" });

        Assert.Equal(("alice", AuditEntry.Resolved, new RunChange(Succeeded: 1, Failed: -1, CostUsd: 0.01m, OutcomeUnknown: -1)),
            (succeeded.Actor, succeeded.ReasonCode, succeeded.Change));
        Assert.Equal(("bob", "failed", ExecutionErrorCodes.ResolvedFailed, new RunChange(OutcomeUnknown: -1)),
            (failed.Actor, failed.Outcome, failed.ReasonCode, failed.Change));
    }
}
