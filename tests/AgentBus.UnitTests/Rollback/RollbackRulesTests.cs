using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.Policy.Engine;
using AgentBus.Policy.Rollback;

namespace AgentBus.UnitTests.Rollback;

/// <summary>The rules `agentbus runs rollback` and the policy service share: identities, attempts, plans, the rollback run.</summary>
public sealed class RollbackRulesTests : IDisposable
{
    readonly string _folder = Directory.CreateTempSubdirectory("agentbus-rollback-").FullName;
    static readonly string Catalog = Path.Combine(RepoRoot.Path, "ops", "catalog");

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    PolicyLoadResult Load(string grants)
    {
        var file = Path.Combine(_folder, "policy.yaml");
        File.WriteAllText(file, $"agents: [{{id: bot, team: t}}, {{id: undo, team: ops, rollback: true}}]\ncatalog: {Catalog}\n{grants}");
        return PolicyLoader.LoadFile(file);
    }

    static UndoRecord Record(string actionId, string? operation, string decision = "allowed", string? outcome = null, object? result = null,
        object? failure = null, string? arguments = null) =>
        new(actionId, "bot", "run-1", operation?.Split('.')[0] ?? "http", operation, decision, decision == "denied" ? "no_grant" : "allowed",
            "because", null, new DateTime(2026, 12, 3, 12, 0, 0, DateTimeKind.Utc), outcome,
            outcome == "succeeded" ? nameof(ActionSucceeded) : outcome is null ? null : nameof(ActionFailed),
            outcome == "succeeded" ? JsonSerializer.Serialize(new { actionId, result }) : failure is null ? null : JsonSerializer.Serialize(failure),
            arguments);

    [Fact]
    public void A_rollback_identity_may_be_granted_only_compensating_operations()
    {
        var refused = Load("grants: [{id: g, agent: undo, tool: payments, operations: [refund]}]");

        Assert.Null(refused.Policy);
        Assert.Contains(refused.Errors, e => e.Contains("'payments.refund', which is no operation's compensation"));

        var policy = Load("grants: [{id: g, agent: undo, tool: payments, operations: [cancel_refund]}]").Policy!;
        Assert.True(policy.Agents["undo"].Rollback);
        Assert.False(policy.Agents["bot"].Rollback);
    }

    [Fact]
    public void Only_a_rollback_identity_may_propose_a_compensation_and_it_may_propose_nothing_else()
    {
        var policy = Load("""
            grants:
              - {id: g, agent: undo, tool: payments, operations: [cancel_refund]}
              - {id: h, agent: bot, tool: payments, operations: [cancel_refund]}
            """).Policy!;
        var original = Guid.CreateVersion7().ToString();
        ActionProposed Proposal(string agent, string? compensates) => new(Guid.CreateVersion7().ToString(), "undo:run-1", agent, "payments",
            JsonSerializer.SerializeToElement(new { refundId = "RF-000001" }), Operation: "cancel_refund", Compensates: compensates);

        Assert.Equal(ReasonCodes.CompensationRequired, PolicyEvaluator.Evaluate(Proposal("undo", null), "undo", policy).ReasonCode);
        Assert.Equal(ReasonCodes.NotRollbackIdentity, PolicyEvaluator.Evaluate(Proposal("bot", original), "bot", policy).ReasonCode);
        Assert.Equal(Decision.Allowed, PolicyEvaluator.Evaluate(Proposal("undo", original), "undo", policy).Decision);
        Assert.Equal(ReasonCodes.InvalidField, PolicyEvaluator.Evaluate(Proposal("undo", "not-a-uuid\n"), "undo", policy).ReasonCode);
    }

    [Fact]
    public void Attempt_ids_are_derived_from_the_original_so_every_terminal_proposes_the_same_ones()
    {
        var original = Guid.CreateVersion7().ToString();

        Assert.Equal(Compensations.ActionId(original, 1), Compensations.ActionId(original, 1));
        Assert.NotEqual(Compensations.ActionId(original, 1), Compensations.ActionId(original, 2));
        Assert.Equal(2, Compensations.AttemptOf(original, Compensations.ActionId(original, 2)));
        Assert.Null(Compensations.AttemptOf(original, Guid.CreateVersion7().ToString()));
        Assert.Null(Compensations.AttemptOf(original, Compensations.ActionId(original, Compensations.MaxAttempts + 1)));
        Assert.True(Guid.TryParseExact(Compensations.ActionId(original, 1), "D", out _));
    }

    [Fact]
    public void Compensation_ids_carry_a_mark_no_uuid_generator_makes_and_only_a_rollback_identity_may_use()
    {
        var policy = Load("grants: [{id: g, agent: undo, tool: payments, operations: [cancel_refund]}, {id: h, agent: bot, tool: payments, operations: [get_order]}]").Policy!;
        var reserved = Compensations.ActionId(Guid.CreateVersion7().ToString(), 1);

        Assert.True(MessageIds.IsReservedForRollback(reserved));
        Assert.False(MessageIds.IsReservedForRollback(Guid.CreateVersion7().ToString()));
        Assert.False(MessageIds.IsReservedForRollback(Guid.NewGuid().ToString()));
        Assert.False(MessageIds.IsReservedForRollback(MessageIds.For("support-bot\nkey", "mcp.action").ToString()));
        Assert.False(MessageIds.IsReservedForRollback("not a uuid"));
        // Agents that make ids from raw random bytes (any variant) are not caught by the mark either.
        var random = new Random(17);
        var bytes = new byte[16];
        Assert.DoesNotContain(Enumerable.Range(0, 100_000).Select(_ =>
        {
            random.NextBytes(bytes);
            return new Guid(bytes).ToString();
        }), MessageIds.IsReservedForRollback);

        var occupying = new ActionProposed(reserved, "run-1", "bot", "payments", JsonSerializer.SerializeToElement(new { orderId = "ORD-1001" }),
            Operation: "get_order");
        var denied = PolicyEvaluator.Evaluate(occupying, "bot", policy);
        Assert.Equal((ReasonCodes.ActionIdReserved, "identity"), (denied.ReasonCode, denied.RuleId));
        Assert.Equal(ReasonCodes.ActionIdReserved, PolicyEvaluator.Evaluate(occupying, "bot", null).ReasonCode);
    }

    [Fact]
    public void Where_undoing_stands_follows_from_the_attempts()
    {
        var failed = Record("a1", "payments.cancel_refund", outcome: "failed", failure: new { errorCode = "tool_error", error = "409" });
        var denied = Record("a2", "payments.cancel_refund", decision: "denied");
        var pending = Record("a3", "payments.cancel_refund", decision: "approval_required");
        var succeeded = Record("a4", "payments.cancel_refund", outcome: "succeeded");
        var unknown = Record("a5", "payments.cancel_refund", outcome: "outcome_unknown");

        Assert.Equal(1, Compensations.Progress([]).ToPropose);
        Assert.Equal(3, Compensations.Progress([failed, denied]).ToPropose);
        Assert.Equal(2, Compensations.Progress([failed, pending]).ToPropose);
        Assert.Null(Compensations.Progress([failed, succeeded]).ToPropose);
        Assert.Equal(UndoState.Succeeded, Compensations.Progress([failed, succeeded]).State);
        Assert.Null(Compensations.Progress([failed, unknown]).ToPropose);
        Assert.Null(Compensations.Progress(Enumerable.Repeat(failed, Compensations.MaxAttempts).ToList()).ToPropose);
    }

    [Fact]
    public void A_plan_builds_the_declared_compensation_from_the_stored_result_or_says_why_not()
    {
        var catalog = Load("grants: []").Policy!.Catalog;
        var refund = Record("r", "payments.refund", outcome: "succeeded", result: new { status = 201, body = new { refundId = "RF-000042" } });

        var plan = Compensations.Plan(catalog, refund);
        Assert.True(plan.CanUndo);
        Assert.Equal("payments.cancel_refund", plan.Compensation!.FullName);
        Assert.Equal("""{"refundId":"RF-000042"}""", plan.Arguments!.Value.GetRawText());

        var lost = Compensations.Plan(catalog, Record("r", "payments.refund", outcome: "succeeded", result: new { status = 201, body = new { } }));
        Assert.False(lost.CanUndo);
        Assert.Contains("/result/body/refundId", lost.Reason);

        Assert.True(Compensations.Plan(catalog, Record("g", "payments.get_order", outcome: "succeeded")).ReadOnly);
        var comment = Compensations.Plan(catalog, Record("c", "ticketing.comment", outcome: "succeeded"));
        Assert.True(comment.Operation!.Irreversible);
        Assert.False(comment.CanUndo);
        Assert.Contains("generic tool", Compensations.Plan(catalog, Record("x", null, outcome: "succeeded")).Reason);
        Assert.Contains("no operation 'payments.wire'", Compensations.Plan(catalog, Record("w", "payments.wire", outcome: "succeeded")).Reason);
    }

    [Fact]
    public void A_rollback_lives_in_a_run_of_its_own_named_after_the_run_it_undoes_and_always_a_valid_run_id()
    {
        Assert.Equal("undo:run-1", RollbackRuns.For("run-1"));
        var longest = new string('r', RollbackRuns.MaxRunIdLength);
        var hashed = RollbackRuns.For(longest);
        Assert.StartsWith("undo:", hashed);
        Assert.True(hashed.Length <= RollbackRuns.MaxRunIdLength);
        Assert.Equal(hashed, RollbackRuns.For(longest));
        Assert.Matches(@"^[A-Za-z0-9][A-Za-z0-9._:-]*\z", hashed);
    }
}
