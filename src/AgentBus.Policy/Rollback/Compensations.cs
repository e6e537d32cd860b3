using AgentBus.Catalog;
using AgentBus.Contracts;

namespace AgentBus.Policy.Rollback;

/// <summary>Where undoing one action stands, read from its attempts: what to do next, if anything.</summary>
public sealed record UndoProgress(UndoState State, int Attempt, UndoRecord? Last)
{
    /// <summary>The attempt to propose now (a new one, or the one in progress, proposed again to follow it), or null.</summary>
    public int? ToPropose => State switch
    {
        UndoState.Absent or UndoState.NoEffect when Attempt < Compensations.MaxAttempts => Attempt + 1,
        UndoState.InProgress => Attempt,
        _ => null,
    };
}

/// <summary>
/// The rules both sides of a rollback share: <c>agentbus runs rollback</c>, which proposes compensations,
/// and the policy service, which checks each one against the stored action before any grant applies.
/// </summary>
public static class Compensations
{
    /// <summary>A compensation that failed this often needs a person, not another retry.</summary>
    public const int MaxAttempts = 10;

    public static string ActionId(string originalActionId, int attempt) => MessageIds.Compensation(originalActionId, attempt).ToString("D");

    /// <summary>Which attempt at undoing <paramref name="originalActionId"/> the action id is, or null when it is none.</summary>
    public static int? AttemptOf(string originalActionId, string actionId)
    {
        for (var attempt = 1; attempt <= MaxAttempts; attempt++)
            if (string.Equals(ActionId(originalActionId, attempt), actionId, StringComparison.OrdinalIgnoreCase))
                return attempt;
        return null;
    }

    /// <summary>The rollback's own run, beside the run it undoes.</summary>
    public static string RunIdFor(string runId) => RollbackRuns.For(runId);

    /// <summary>The idempotency key of an attempt: each attempt is a new call of the system of record, a repeat of one is not.</summary>
    public static string IdempotencyKey(string originalActionId, int attempt) => $"undo:{originalActionId}:{attempt}";

    /// <summary>Attempts in order (see <see cref="UndoRecords.GetAttemptsAsync"/>) → where undoing stands.</summary>
    public static UndoProgress Progress(IReadOnlyList<UndoRecord> attempts)
    {
        if (attempts.FirstOrDefault(a => a.State == UndoState.Succeeded) is { } undone)
            return new(UndoState.Succeeded, attempts.ToList().IndexOf(undone) + 1, undone);
        if (attempts.Count == 0)
            return new(UndoState.Absent, 0, null);
        return new(attempts[^1].State, attempts.Count, attempts[^1]);
    }

    /// <summary>The compensation the catalog declares for the original action, with its arguments, or why there is none.</summary>
    public static CompensationPlan Plan(ToolCatalog catalog, UndoRecord original)
    {
        if (original.Operation is null || catalog.Find(original.Subject) is not { } operation)
            return CompensationPlan.Cannot(original.Operation is null
                ? $"'{original.Tool}' is a generic tool without operations; no compensation can be declared for it."
                : $"The catalog in force has no operation '{original.Subject}'.");
        if (operation.ReadOnly)
            return CompensationPlan.NothingToUndo(operation);
        if (operation.Irreversible)
            return CompensationPlan.Cannot(operation.IrreversibleReason ?? $"'{operation.FullName}' is declared irreversible.", operation);
        if (operation.Compensation is not { } compensation)
            return CompensationPlan.Cannot($"'{operation.FullName}' declares no compensation (catalog: compensation or irreversible).", operation);
        var built = compensation.Build(original.Arguments, original.Result);
        return built.Succeeded
            ? new(operation, compensation, built.Arguments, null)
            : CompensationPlan.Cannot(built.Error!, operation);
    }
}

/// <summary>The compensation of one action: <see cref="Compensation"/> with <see cref="Arguments"/>, or <see cref="Reason"/> why not.</summary>
public sealed record CompensationPlan(CatalogOperation? Operation, Compensation? Compensation, System.Text.Json.JsonElement? Arguments, string? Reason)
{
    public bool CanUndo => Compensation is not null && Arguments is not null;

    /// <summary>Read-only: it changed nothing, so there is nothing to undo.</summary>
    public bool ReadOnly => Operation?.ReadOnly == true;

    public static CompensationPlan Cannot(string reason, CatalogOperation? operation = null) => new(operation, null, null, reason);

    public static CompensationPlan NothingToUndo(CatalogOperation operation) => new(operation, null, null, "read-only: it changed nothing.");
}
