using System.Text.Json;
using AgentBus.Client;
using AgentBus.Contracts;
using AgentBus.Operations.Audit;
using AgentBus.Policy.Engine;
using AgentBus.Policy.Rollback;
using Npgsql;

namespace AgentBus.Operations.Rollback;

/// <summary>A rollback as far as one request took it: the plan before and after, and how each proposed compensation ended.</summary>
public sealed record RollbackRun(RollbackPlan Before, RollbackPlan After, IReadOnlyList<RollbackResult> Results)
{
    /// <summary>Nothing failed and nothing waits: every step is undone, irreversible or needed no compensation.</summary>
    public bool Complete => After.Steps.All(s => s.Status is RollbackStatuses.Undone or RollbackStatuses.Irreversible or RollbackStatuses.NoCompensation);

    /// <summary>A compensation failed, was denied or ended unknown: a person must act before a repeat can go on.</summary>
    public bool NeedsAPerson =>
        Results.Any(r => r.Result is RollbackResults.Failed or RollbackResults.Unknown) ||
        After.Steps.Any(s => s.Status is RollbackStatuses.OutcomeUnknown or RollbackStatuses.CompensationUnknown or RollbackStatuses.GaveUp or RollbackStatuses.Retry);
}

/// <summary>
/// Undoing a run, for `agentbus runs rollback` and the console alike: the plan from what the policy
/// service recorded, then each compensation proposed through the policy as the rollback identity
/// (approvals included), the request itself audited with the operator's name first.
/// </summary>
public sealed class RunRollback(NpgsqlDataSource database, OperatorBrokerEndpoint broker)
{
    public const int MaxReasonLength = 500;

    public Task<RollbackPlan?> PlanAsync(PolicySnapshot policy, string runId, string? untilActionId, CancellationToken ct) =>
        RollbackPlan.BuildAsync(new UndoRecords(database), policy, runId, untilActionId, ct);

    /// <summary>The identity to propose as: the one named, which must be a rollback identity, or the policy's only one.</summary>
    public static string IdentityOf(PolicySnapshot policy, string? requested)
    {
        if (requested is not null)
            return policy.Agents.TryGetValue(requested, out var agent) && agent.Rollback
                ? requested
                : throw new RollbackPlanException($"'{requested}' is not a rollback identity of the policy (an agent with rollback: true).");
        var identities = policy.Agents.Values.Where(a => a.Rollback).Select(a => a.Id).Order(StringComparer.Ordinal).ToList();
        return identities switch
        {
            [var only] => only,
            [] => throw new RollbackPlanException("The policy has no rollback identity: add an agent with rollback: true and grant it the compensating operations (docs/operations.md, \"Undo what an agent did\")."),
            _ => throw new RollbackPlanException($"The policy has several rollback identities ({string.Join(", ", identities)}); name one."),
        };
    }

    /// <summary>Who and why, as the audit and each compensation's intent will carry them.</summary>
    public static void CheckRequest([System.Diagnostics.CodeAnalysis.NotNull] string? operatorName, string? reason)
    {
        if (string.IsNullOrWhiteSpace(operatorName) || operatorName.Length > 200 || operatorName.Any(char.IsControl))
            throw new RollbackPlanException("Say who is doing this (at most 200 characters).");
        if (reason is { Length: > MaxReasonLength } || reason?.Any(char.IsControl) == true)
            throw new RollbackPlanException($"A reason is at most {MaxReasonLength} characters without control characters.");
    }

    public async Task<RollbackRun> RunAsync(PolicySnapshot policy, RollbackPlan plan, string operatorName, string? reason, string? untilActionId,
        string identity, string password, Uri? approvalsUrl, TimeSpan wait, Action<string> say, CancellationToken ct)
    {
        CheckRequest(operatorName, reason);
        var records = new UndoRecords(database);
        await OperatorActionPublisher.PublishAsync(broker,
            new OperatorActionTaken(operatorName, "run.rollback", plan.RunId, reason,
                JsonSerializer.SerializeToElement(new { rollbackRunId = plan.RollbackRunId, identity, plan.Steps }), DateTimeOffset.UtcNow),
            Guid.NewGuid(), ct);

        await using var client = await AgentClient.ConnectAsync(new AgentClientOptions
        {
            Host = broker.Broker.Host, Port = broker.Broker.Port, Endpoints = broker.Broker.Endpoints, VirtualHost = broker.VirtualHost, AgentId = identity, Password = password,
        }, ct);
        var results = await new RollbackRunner(records, client, wait, approvalsUrl, say).RunAsync(plan, operatorName, reason, ct);
        var after = await RollbackPlan.BuildAsync(records, policy, plan.RunId, untilActionId, ct) ?? plan;
        return new RollbackRun(plan, after, results);
    }
}
