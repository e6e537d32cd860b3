using AgentBus.Client;
using AgentBus.Contracts;
using AgentBus.Policy.Rollback;

namespace AgentBus.Operations.Rollback;

/// <summary>How one proposed compensation ended, as far as this run of the command saw it.</summary>
public sealed record RollbackResult(string ActionId, string CompensationActionId, string Result, string Detail);

public static class RollbackResults
{
    public const string Undone = "undone";
    public const string Failed = "failed";
    public const string Unknown = "unknown";
    public const string Waiting = "waiting";
}

/// <summary>
/// Proposes a plan's compensations one at a time, newest first, as the rollback identity, and follows
/// each to its end in policy_actions (the record every policy instance writes) rather than in replies:
/// another terminal rolling back the same run as the same identity may take a reply, never the record.
/// Stops at the first compensation that fails, is denied, or whose outcome is unknown; a repeat picks up
/// where this one stopped, because attempt ids are derived and the policy admits each once.
/// </summary>
public sealed class RollbackRunner(UndoRecords records, AgentClient agent, TimeSpan wait, Uri? approvalsUrl, Action<string> say)
{
    static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(200);

    public async Task<IReadOnlyList<RollbackResult>> RunAsync(RollbackPlan plan, string operatorName, string? reason, CancellationToken ct)
    {
        var results = new List<RollbackResult>();
        foreach (var step in plan.Steps.Where(s => s.Proposes))
        {
            var attempt = step.Attempt!.Value;
            var actionId = step.CompensationActionId!;
            var compensation = step.Compensation!;
            var dot = compensation.LastIndexOf('.');
            var intent = $"Undo {step.Operation} {step.ActionId} of run {plan.RunId} (attempt {attempt}); rollback by {operatorName}" +
                         (string.IsNullOrWhiteSpace(reason) ? "." : $": {reason}");
            await agent.ProposeAsync(compensation[..dot], step.Arguments!.Value, plan.RollbackRunId,
                Compensations.IdempotencyKey(step.ActionId, attempt), intent, actionId, ct, compensation[(dot + 1)..], step.ActionId);
            // Followed in the database, not through the reply queue (see the summary).
            agent.Forget(actionId);
            say($"{step.Operation} {step.ActionId}: proposed {compensation} as {actionId} (attempt {attempt}).");

            var result = await FollowAsync(step, actionId, ct);
            results.Add(result);
            say($"{step.Operation} {step.ActionId}: {result.Result}. {result.Detail}");
            if (result.Result != RollbackResults.Undone)
                break;
        }
        return results;
    }

    async Task<RollbackResult> FollowAsync(RollbackStep step, string actionId, CancellationToken ct)
    {
        var deadline = DateTimeOffset.UtcNow + wait;
        var announced = false;
        while (true)
        {
            var record = (await records.GetAsync([actionId], ct)).GetValueOrDefault(actionId);
            switch (record?.State)
            {
                case UndoState.Succeeded:
                    return new(step.ActionId, actionId, RollbackResults.Undone, "");
                case UndoState.NoEffect:
                    return new(step.ActionId, actionId, RollbackResults.Failed,
                        $"{RollbackPlan.Why(record)} The rollback stops here; fix the cause and run it again to retry.");
                case UndoState.OutcomeUnknown:
                    return new(step.ActionId, actionId, RollbackResults.Unknown,
                        $"Its outcome is unknown; check the system of record and run agentbus actions resolve {actionId}, then the rollback again.");
            }
            if (record is { Decision: "approval_required" } && !announced)
            {
                announced = true;
                var approvalId = MessageIds.Approval(record.AgentId, actionId).ToString("D");
                say($"{step.Operation} {step.ActionId}: waiting for approval {approvalId}" +
                    (approvalsUrl is null ? "." : $" ({new Uri(approvalsUrl, $"inbox/{approvalId}")})."));
            }
            if (DateTimeOffset.UtcNow >= deadline)
                return new(step.ActionId, actionId, RollbackResults.Waiting,
                    record is { Decision: "approval_required" }
                        ? "Still waiting for approval; run the rollback again to go on once it is decided (nothing is proposed twice)."
                        : "Not ended yet; run the rollback again to follow it (nothing is proposed twice).");
            await Task.Delay(Poll, ct);
        }
    }
}
