using System.Text.Json;
using AgentBus.Catalog;
using AgentBus.Policy.Engine;
using AgentBus.Policy.Rollback;

namespace AgentBus.Operations.Rollback;

/// <summary>What rollback will do, or did, about one action of the run. <see cref="Status"/> is one of <see cref="RollbackStatuses"/>.</summary>
public sealed record RollbackStep(
    string ActionId,
    string AgentId,
    string Operation,
    DateTimeOffset DecidedAt,
    string Status,
    string Detail,
    string? Compensation,
    JsonElement? Arguments,
    int? Attempt,
    string? CompensationActionId)
{
    /// <summary>An attempt to propose now: a new one, or one in progress to follow.</summary>
    public bool Proposes => Status is RollbackStatuses.Undo or RollbackStatuses.Retry or RollbackStatuses.InProgress;
}

public static class RollbackStatuses
{
    public const string Undo = "undo";
    public const string Retry = "retry";
    public const string InProgress = "in progress";
    public const string Undone = "undone";
    public const string Irreversible = "irreversible";
    public const string NoCompensation = "no compensation";
    public const string OutcomeUnknown = "outcome unknown";
    public const string CompensationUnknown = "undo unknown";
    public const string StillRunning = "still running";
    public const string GaveUp = "gave up";
}

/// <summary>
/// The rollback of one run, newest action first: for each action that changed something, its compensation
/// and how far undoing it has come (read from the compensation attempts already in policy_actions), or why
/// it cannot be undone. Read-only, denied and failed actions changed nothing and are left out.
/// </summary>
public sealed record RollbackPlan(string RunId, string RollbackRunId, IReadOnlyList<RollbackStep> Steps)
{
    public static async Task<RollbackPlan?> BuildAsync(UndoRecords records, PolicySnapshot policy, string runId, string? untilActionId,
        CancellationToken ct)
    {
        var actions = await records.GetRunAsync(runId, ct);
        // The rollback's own compensations are never undone; they live in their own run anyway.
        actions = actions.Where(a => !(policy.Agents.TryGetValue(a.AgentId, out var agent) && agent.Rollback)).ToList();
        if (actions.Count == 0)
            return null;

        var newestFirst = actions.Reverse().ToList();
        if (untilActionId is not null)
        {
            var stop = newestFirst.FindIndex(a => a.ActionId == untilActionId);
            if (stop < 0)
                throw new RollbackPlanException($"--until: run '{runId}' has no action {untilActionId}.");
            newestFirst = newestFirst[..(stop + 1)];
        }

        var steps = new List<RollbackStep>();
        foreach (var action in newestFirst)
            if (await StepAsync(records, policy.Catalog, action, ct) is { } step)
                steps.Add(step);
        return new(runId, Compensations.RunIdFor(runId), steps);
    }

    static async Task<RollbackStep?> StepAsync(UndoRecords records, ToolCatalog catalog, UndoRecord action, CancellationToken ct)
    {
        RollbackStep Step(string status, string detail, CompensationPlan? plan = null, int? attempt = null) =>
            new(action.ActionId, action.AgentId, action.Subject, new DateTimeOffset(DateTime.SpecifyKind(action.DecidedAt, DateTimeKind.Utc)),
                status, detail, plan?.Compensation?.FullName, plan?.Arguments, attempt,
                attempt is { } n ? Compensations.ActionId(action.ActionId, n) : null);

        var plan = Compensations.Plan(catalog, action);
        if (plan.ReadOnly || action.State is UndoState.NoEffect)
            return null;
        switch (action.State)
        {
            case UndoState.InProgress:
                return Step(RollbackStatuses.StillRunning, "It has not ended (waiting for approval or running); run the rollback again once it has.");
            case UndoState.OutcomeUnknown:
                return Step(RollbackStatuses.OutcomeUnknown,
                    $"Its side effect may have happened. Check the system of record, then: agentbus actions resolve {action.ActionId} --succeeded|--failed --evidence TEXT.");
        }
        if (!plan.CanUndo)
            return Step(plan.Operation?.Irreversible == true ? RollbackStatuses.Irreversible : RollbackStatuses.NoCompensation, plan.Reason!);

        var progress = Compensations.Progress(await records.GetAttemptsAsync(action.ActionId, ct));
        return progress.State switch
        {
            UndoState.Succeeded => Step(RollbackStatuses.Undone, $"Undone by attempt {progress.Attempt}.", plan, progress.Attempt),
            UndoState.Absent => Step(RollbackStatuses.Undo, "", plan, 1),
            UndoState.InProgress => Step(RollbackStatuses.InProgress, $"Attempt {progress.Attempt} is waiting for approval or running.", plan, progress.Attempt),
            UndoState.OutcomeUnknown => Step(RollbackStatuses.CompensationUnknown,
                $"Attempt {progress.Attempt} ({Compensations.ActionId(action.ActionId, progress.Attempt)}) may have happened: resolve it with agentbus actions resolve before anything else.",
                plan, progress.Attempt),
            _ when progress.ToPropose is { } next => Step(RollbackStatuses.Retry, $"Attempt {progress.Attempt} ended without effect: {Why(progress.Last!)}", plan, next),
            _ => Step(RollbackStatuses.GaveUp, $"{Compensations.MaxAttempts} attempts ended without effect (last: {Why(progress.Last!)}); undo it by hand.", plan),
        };
    }

    /// <summary>Why an attempt ended without effect: its denial, or the executor's error.</summary>
    public static string Why(UndoRecord attempt)
    {
        if (attempt.Decision == "denied")
            return $"denied ({attempt.ReasonCode}): {attempt.Reason}";
        if (attempt.OutcomePayload is { } payload)
        {
            var failed = JsonDocument.Parse(payload).RootElement;
            return $"failed ({Text(failed, "errorCode")}): {Text(failed, "error")}";
        }
        return attempt.Outcome ?? attempt.Decision;
    }

    static string Text(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString()! : "";
}

/// <summary>The plan asked for cannot be made from what was recorded (an action the run does not have).</summary>
public sealed class RollbackPlanException(string message) : Exception(message);
