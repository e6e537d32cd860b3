using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.Policy.Approvals;
using AgentBus.Policy.Engine;
using AgentBus.Projections.Audit;
using AgentBus.ServiceDefaults.Json;
using AgentBus.ServiceDefaults.Messaging;

namespace AgentBus.UnitTests.Approvals;

/// <summary>What policy sends the approval saga, and how the audit counts an action that needed approval.</summary>
public class PolicyApprovalTests
{
    static readonly DateTimeOffset Now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void The_request_binds_the_exact_action_and_carries_who_may_and_may_not_approve()
    {
        var arguments = JsonSerializer.SerializeToElement(new { method = "POST", body = new { amountUsd = 250, orderId = "ORD-1" } });
        var proposal = new ActionProposed("0193e3c2-6f1a-7c3b-9d4e-2a1b3c4d5e6f", "run-1", "support-bot", "payments", arguments, "key-1", "a refund");
        var requirement = new ApprovalRequirement("large-refund", "payments-approvers", 2, TimeSpan.FromHours(1), Now.AddHours(1))
        {
            AgentTeam = "support",
            RequestedBy = "sam",
            ExcludedApprovers = ["sam", "tina"],
            EscalationGroup = "finance-leads",
            EscalationDelay = TimeSpan.FromMinutes(30),
        };

        var request = ApprovalMessages.Request(proposal, requirement, "sha256:v1");

        Assert.Equal(MessageIds.Approval("support-bot", proposal.ActionId), request.ApprovalId);
        Assert.Equal((proposal.ActionId, "run-1", "support-bot", "payments"), (request.ActionId, request.RunId, request.AgentId, request.Tool));
        Assert.Equal(CanonicalJson.Hash(arguments), request.ArgumentsHash);
        Assert.Equal(arguments.GetRawText(), request.Arguments.GetRawText());
        Assert.Equal(("large-refund", "payments-approvers", 2), (request.RuleId, request.ApproverGroup, request.Quorum));
        Assert.Equal(("sam", "support"), (request.RequestedBy, request.AgentTeam));
        Assert.Equal(["sam", "tina"], request.ExcludedApprovers);
        Assert.Equal((Now, Now.AddHours(1)), (request.RequestedAt, request.ExpiresAt));
        Assert.Equal(("finance-leads", TimeSpan.FromMinutes(30)), (request.EscalationGroup, request.EscalationDelay));
        Assert.Equal(("sha256:v1", "a refund", "key-1"), (request.PolicyVersion, request.Intent, request.IdempotencyKey));

        // Derived ids: a redelivered proposal asks for the same approval and uses the grant with the same consumption.
        Assert.Equal(ApprovalMessages.RequestMessageId(request.ApprovalId), ApprovalMessages.RequestMessageId(ApprovalMessages.Request(proposal, requirement, "v2").ApprovalId));
        Assert.Equal(ApprovalMessages.ConsumptionId(request.ApprovalId), ApprovalMessages.ConsumptionId(request.ApprovalId));
        Assert.NotEqual(MessageIds.FinalDecision("support-bot", proposal.ActionId), MessageIds.ActionDecided("support-bot", proposal.ActionId));
        // A command authorized after an approval has the id an allowed proposal's command would have: one command per action.
        Assert.Equal(MessageIds.For($"support-bot:{proposal.ActionId}", nameof(ExecuteTool)), MessageIds.ExecuteTool("support-bot", proposal.ActionId));
    }

    static ActionDecided Decided(Decision decision, string code, string? approvalId) =>
        new("a-1", "run-1", "support-bot", "payments", decision, code, "why", "large-refund", "v1", Now, approvalId);

    [Fact]
    public void The_run_summary_counts_an_action_pending_until_its_final_decision()
    {
        Assert.Equal(new RunChange(Pending: 1), AuditEntry.From(Guid.NewGuid(), Decided(Decision.ApprovalRequired, ReasonCodes.ApprovalRequired, "x")).Change);
        Assert.Equal(new RunChange(Allowed: 1, Pending: -1), AuditEntry.From(Guid.NewGuid(), Decided(Decision.Allowed, ReasonCodes.ApprovalGranted, "x")).Change);
        Assert.Equal(new RunChange(Denied: 1, Pending: -1), AuditEntry.From(Guid.NewGuid(), Decided(Decision.Denied, ReasonCodes.ApprovalExpired, "x")).Change);
        Assert.Equal(new RunChange(Allowed: 1), AuditEntry.From(Guid.NewGuid(), Decided(Decision.Allowed, ReasonCodes.Allowed, null)).Change);
        Assert.Equal(new RunChange(Denied: 1), AuditEntry.From(Guid.NewGuid(), Decided(Decision.Denied, ReasonCodes.NoGrant, null)).Change);
    }

    [Fact]
    public void Each_answer_is_audited_with_the_approver_as_actor_and_the_time_it_was_cast()
    {
        var cast = Now.AddMinutes(7);
        var vote = new ApprovalVoteRecorded(Guid.NewGuid(), "a-1", "run-1", "support-bot", "payments", "large-refund", "dana",
            ApprovalVerdict.Deny, "refunded by phone", false, 0, 1, cast);

        var entry = AuditEntry.From(Guid.NewGuid(), vote);

        Assert.Equal((nameof(ApprovalVoteRecorded), "denied", "dana", cast), (entry.EventType, entry.Outcome, entry.Actor, entry.OccurredAt));
        Assert.Equal(("a-1", "run-1", "large-refund"), (entry.ActionId, entry.RunId, entry.RuleId));
        Assert.Equal(new RunChange(), entry.Change);
        Assert.Contains("refunded by phone", entry.Payload);
    }
}
