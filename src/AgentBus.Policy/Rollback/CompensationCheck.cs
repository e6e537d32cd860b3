using AgentBus.Contracts;
using AgentBus.Policy.Engine;
using AgentBus.ServiceDefaults.Json;

namespace AgentBus.Policy.Rollback;

/// <summary>
/// A rollback identity can only undo: before any grant is consulted, a proposal that claims to compensate
/// an action is checked against that action as stored. It must undo a succeeded action of another agent,
/// be the compensation the catalog declares for it with exactly the arguments built from the original
/// arguments and result, and be the next attempt (every earlier one ended without effect). So a stolen
/// rollback credential cannot cancel an arbitrary refund, and two rollbacks cannot undo one action twice.
/// </summary>
public sealed class CompensationCheck(UndoRecords records)
{
    public async Task<PolicyDecision?> RefuseAsync(ActionProposed proposal, PolicySnapshot policy, CancellationToken ct)
    {
        var originalId = proposal.Compensates!;
        if (Compensations.AttemptOf(originalId, proposal.ActionId) is not { } attempt)
            return Invalid($"Action id {proposal.ActionId} is not one rollback derives for undoing action {originalId}; " +
                           "propose compensations with agentbus runs rollback.");

        var attemptIds = Enumerable.Range(1, attempt).Select(n => Compensations.ActionId(originalId, n)).ToList();
        var found = await records.GetAsync([originalId, .. attemptIds], ct);
        // Decided before: the admission replays that decision, whatever has happened since.
        if (found.ContainsKey(proposal.ActionId))
            return null;

        if (!found.TryGetValue(originalId, out var original))
            return Invalid($"There is no action {originalId} to undo.");
        if (policy.Agents.TryGetValue(original.AgentId, out var originalAgent) && originalAgent.Rollback)
            return Invalid($"Action {originalId} is itself a compensation (by rollback identity '{original.AgentId}'); an undo is not undone.");
        if (original.State != UndoState.Succeeded)
            return Invalid($"Action {originalId} ({original.Subject}) has not succeeded ({Describe(original.State)}); only a succeeded action is undone.");

        for (var earlier = 1; earlier < attempt; earlier++)
        {
            var state = found.TryGetValue(attemptIds[earlier - 1], out var record) ? record.State : UndoState.Absent;
            if (state != UndoState.NoEffect)
                return Invalid($"Attempt {attempt} at undoing action {originalId} comes too early: attempt {earlier} is {Describe(state)}.");
        }

        var plan = Compensations.Plan(policy.Catalog, original);
        if (!plan.CanUndo)
            return Invalid($"Action {originalId} ({original.Subject}) cannot be undone: {plan.Reason}");
        var compensation = plan.Compensation!;
        if (compensation.Tool != proposal.Tool || compensation.Operation != proposal.Operation)
            return Invalid($"'{original.Subject}' is undone by '{compensation.FullName}', not by '{proposal.Tool}.{proposal.Operation}'.");
        if (CanonicalJson.Hash(plan.Arguments!.Value) != CanonicalJson.Hash(proposal.Arguments))
            return Invalid($"The arguments are not the ones built from action {originalId}: expected {plan.Arguments.Value.GetRawText()}.");
        var key = Compensations.IdempotencyKey(originalId, attempt);
        if (proposal.IdempotencyKey != key)
            return Invalid($"Attempt {attempt} at undoing action {originalId} carries idempotency key '{key}'.");
        return null;
    }

    static PolicyDecision Invalid(string reason) => PolicyDecision.Deny(ReasonCodes.CompensationInvalid, reason, "rollback");

    static string Describe(UndoState state) => state switch
    {
        UndoState.Absent => "never proposed",
        UndoState.InProgress => "still in progress (waiting for approval or running)",
        UndoState.NoEffect => "ended without effect (denied or failed)",
        UndoState.OutcomeUnknown => "of unknown outcome (resolve it with agentbus actions resolve)",
        _ => "succeeded",
    };
}
