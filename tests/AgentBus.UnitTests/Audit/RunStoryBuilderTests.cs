using AgentBus.Audit.Chain;
using AgentBus.Audit.Stories;

namespace AgentBus.UnitTests.Audit;

public class RunStoryBuilderTests
{
    static readonly DateTimeOffset T0 = new(2026, 11, 24, 13, 30, 0, TimeSpan.Zero);
    long _seq;

    AuditRecord Row(string type, string? action, string outcome, double seconds, string? reason = null, string payload = "{}",
        string? actor = null, decimal? cost = null, string? reference = null, string agent = "support-bot", string tool = "payments") =>
        new(++_seq, Guid.NewGuid(), type, action, "run-1", agent, action is null ? null : tool, outcome, reason,
            type == "ActionDecided" ? "support-bot-refunds" : null, type == "ActionDecided" ? "v1" : null, actor, null, reference, cost,
            payload, T0.AddSeconds(seconds), T0.AddSeconds(seconds));

    [Fact]
    public void The_final_decision_after_an_approval_comes_after_the_answers_and_says_how_it_ended()
    {
        var rows = new List<AuditRecord>
        {
            Row("ActionDecided", "a1", "approval_required", 0.1, "approval_required", """{"approvalId":"x"}"""),
            Row("ActionProposed", "a1", "proposed", 0.2),
            Row("ApprovalRequested", "a1", "requested", 0.2, actor: "policy"),
            // Stamped by the saga's clock, a little behind policy's: the custody order still holds.
            Row("ActionDecided", "a1", "allowed", 3.0, "approval_granted", """{"approvalId":"x","reason":"Approved by bob"}"""),
            Row("ApprovalVoteRecorded", "a1", "approved", 3.1, actor: "bob"),
            Row("ApprovalGranted", "a1", "granted", 3.1, actor: "bob"),
            Row("ApprovalConsumed", "a1", "consumed", 3.2, actor: "policy"),
            Row("ExecuteTool", "a1", "authorized", 3.3),
            Row("ActionDecided", "a2", "approval_required", 4, "approval_required", """{"approvalId":"y"}"""),
            Row("ApprovalVoteRecorded", "a2", "denied", 5, actor: "carol"),
            Row("ApprovalDenied", "a2", "denied", 5, actor: "carol"),
            Row("ActionDecided", "a2", "denied", 5.1, "approval_denied", """{"approvalId":"y","reason":"Denied by carol"}"""),
        };

        var story = RunStoryBuilder.Build("run-1", rows, [])!;

        var granted = story.Actions[0];
        Assert.Equal(["ActionProposed", "ActionDecided", "ApprovalRequested", "ApprovalVoteRecorded", "ApprovalGranted", "ApprovalConsumed",
            "ActionDecided", "ExecuteTool"], granted.Steps.Select(s => s.EventType));
        Assert.Equal(("allowed", "approval_granted", "authorized"), (granted.Decision, granted.ReasonCode, granted.Status));
        Assert.Contains(granted.Approvals, a => a is { Answer: "approved", By: "bob" });
        var denied = story.Actions[1];
        Assert.Equal("ActionDecided", denied.Steps[^1].EventType);
        Assert.Equal(("denied", "approval_denied"), (denied.Decision, denied.Status));
        Assert.Equal((2, 1, 1, 0), (story.Totals.Actions, story.Totals.Allowed, story.Totals.Denied, story.Totals.PendingApproval));
    }

    [Fact]
    public void Each_action_is_told_in_the_order_of_custody_with_its_decision_approvals_execution_and_outcome()
    {
        var rows = new List<AuditRecord>
        {
            // The decision is stamped before the projections read the proposal: the story still starts with the proposal.
            Row("ActionDecided", "a1", "approval_required", 0.1, "approval_required", """{"reason":"refunds above 100 need a human"}"""),
            Row("ActionProposed", "a1", "proposed", 0.2, payload: """{"intent":"refund","arguments":{"orderId":"ORD-1"}}"""),
            Row("ApprovalRequested", "a1", "requested", 0.3),
            Row("ApprovalGranted", "a1", "granted", 5, actor: "ada@example.com"),
            Row("ExecuteTool", "a1", "authorized", 5.1, actor: "policy"),
            Row("ExecutionStarted", "a1", "started", 5.2, actor: "executor-1"),
            Row("ActionSucceeded", "a1", "succeeded", 5.5, payload: """{"durationMs":300}""", cost: 0.01m, reference: "RF-000001"),
            Row("ActionProposed", "a2", "proposed", 6, agent: "intern-bot"),
            Row("ActionDecided", "a2", "denied", 6.1, "no_grant", agent: "intern-bot"),
            Row("ActionProposed", "a3", "proposed", 7, tool: "ticketing"),
            Row("ActionDecided", "a3", "allowed", 7.1, "allowed", tool: "ticketing"),
            Row("ExecuteTool", "a3", "authorized", 7.2, tool: "ticketing"),
            Row("ActionFailed", "a3", "outcome_unknown", 17.2, "timeout", """{"error":"no answer","durationMs":10000}""", tool: "ticketing"),
            Row("RunCompleted", null, "failed", 20, payload: """{"summary":"refund done, ticket unclear"}""", actor: "support-bot"),
        };
        var agents = new List<RunAgent>
        {
            new("support-bot", T0, T0.AddSeconds(20), false, T0.AddSeconds(20), "refund done, ticket unclear", 0.01m),
            new("intern-bot", T0.AddSeconds(6), T0.AddSeconds(6.1), null, null, null, 0),
        };

        var story = RunStoryBuilder.Build("run-1", rows, agents)!;

        Assert.Equal("failed", story.Status);
        Assert.Equal(["a1", "a2", "a3"], story.Actions.Select(a => a.ActionId));
        var refund = story.Actions[0];
        Assert.Equal(["proposal", "decision", "approval", "approval", "authorization", "execution", "outcome"], refund.Steps.Select(s => s.Stage));
        Assert.Equal("succeeded", refund.Status);
        Assert.Equal("refund", refund.Intent);
        Assert.Equal("ORD-1", refund.Arguments!.Value.GetProperty("orderId").GetString());
        Assert.Equal("approval_required", refund.Decision);
        Assert.Equal("support-bot-refunds", refund.RuleId);
        Assert.Equal("refunds above 100 need a human", refund.Reason);
        Assert.Equal("ada@example.com", refund.Approvals.Single(a => a.Answer == "granted").By);
        Assert.Equal(T0.AddSeconds(5.1), refund.AuthorizedAt);
        Assert.Equal("executor-1", refund.Executor);
        Assert.Equal("RF-000001", refund.ExternalReference);
        Assert.Equal(300, refund.DurationMs);
        Assert.Equal(0.01m, refund.CostUsd);

        Assert.Equal("denied", story.Actions[1].Status);
        Assert.Equal("intern-bot", story.Actions[1].AgentId);
        Assert.Equal("outcome_unknown", story.Actions[2].Status);
        Assert.Equal("timeout", story.Actions[2].ErrorCode);
        Assert.Equal("no answer", story.Actions[2].Error);

        Assert.Equal("RunCompleted", Assert.Single(story.RunEvents).EventType);
        Assert.Equal(new RunTotals(3, 1, 1, 0, 2, 1, 0, 1, 0, 0.01m, TimeSpan.FromSeconds(20)), story.Totals);
    }

    [Fact]
    public void A_run_nobody_reported_is_running_and_an_unanswered_approval_is_pending()
    {
        var rows = new List<AuditRecord>
        {
            Row("ActionProposed", "a1", "proposed", 0),
            Row("ActionDecided", "a1", "approval_required", 0.1),
            Row("ApprovalRequested", "a1", "requested", 0.2),
        };
        var story = RunStoryBuilder.Build("run-1", rows, [new RunAgent("support-bot", T0, T0.AddSeconds(0.2), null, null, null, 0)])!;
        Assert.Equal("running", story.Status);
        Assert.Equal("pending_approval", story.Actions[0].Status);
        Assert.Equal(1, story.Totals.PendingApproval);
    }

    [Fact]
    public void A_malformed_proposal_keeps_its_reason_and_an_unknown_run_has_no_story()
    {
        var rows = new List<AuditRecord> { Row("ActionProposed", "a1", "malformed", 0, "unknown_field") };
        var story = RunStoryBuilder.Build("run-1", rows, [])!;
        Assert.Equal("malformed", story.Actions[0].Status);
        Assert.Equal("unknown_field", story.Actions[0].ReasonCode);
        Assert.Null(RunStoryBuilder.Build("nothing", [], []));
    }
}
