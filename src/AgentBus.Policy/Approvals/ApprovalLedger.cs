using System.Text.Json;
using AgentBus.Contracts;
using Dapper;
using Npgsql;

namespace AgentBus.Policy.Approvals;

/// <summary>
/// The states of an approval on the policy service's side (policy_approvals.status): the saga's words
/// from <see cref="ApprovalStatusNames"/> where the two mean the same, and three of policy's own for
/// the steps only policy takes (the re-check, the consumption, the signed command).
/// </summary>
public static class PolicyApprovalStatus
{
    /// <summary>Asked; waiting for people.</summary>
    public const string Pending = ApprovalStatusNames.Pending;

    /// <summary>Granted and re-checked; ConsumeApproval sent, waiting for the saga to hand over the grant.</summary>
    public const string Consuming = "consuming";

    /// <summary>The grant was used: the signed ExecuteTool and the final allowed decision were sent.</summary>
    public const string Authorized = "authorized";

    public const string Denied = ApprovalStatusNames.Denied;
    public const string Expired = ApprovalStatusNames.Expired;
    public const string Cancelled = ApprovalStatusNames.Cancelled;

    /// <summary>Granted, but the re-check or the consumption refused it: nothing runs.</summary>
    public const string Refused = "refused";

    public static bool IsOpen(string status) => status is Pending or Consuming;
}

/// <summary>One approval policy asked for (policy_approvals): the exact action, what was asked, and how it ended.</summary>
public sealed class PolicyApproval
{
    public Guid ApprovalId { get; set; }
    public string ActionId { get; set; } = "";
    public string AgentId { get; set; } = "";
    public string RunId { get; set; } = "";
    public string Tool { get; set; } = "";
    public string? Operation { get; set; }

    /// <summary>The action a rollback identity's compensation undoes (agentbus runs rollback), re-checked with the rest.</summary>
    public string? Compensates { get; set; }
    public string ArgumentsHash { get; set; } = "";
    public string Arguments { get; set; } = "{}";
    public string? IdempotencyKey { get; set; }
    public string? Intent { get; set; }
    public string RuleId { get; set; } = "";
    public string ApproverGroup { get; set; } = "";
    public int Quorum { get; set; }
    public string? PolicyVersion { get; set; }
    public string Status { get; set; } = PolicyApprovalStatus.Pending;
    public Guid? ConsumptionId { get; set; }
    public string[] Approvers { get; set; } = [];
    public string? FinalDecision { get; set; }
    public string? ReasonCode { get; set; }
    public string? Reason { get; set; }
    public DateTime RequestedAt { get; set; }
    public DateTime UpdatedAt { get; set; }

    /// <summary>The approval_required decision owed to the agent once the saga opened the approval (null: sent at once by an older version).</summary>
    public string? DecisionReason { get; set; }
    public DateTime? DecidedAt { get; set; }
    public string? ProposalMessageId { get; set; }

    /// <summary>The proposal as the agent made it, for re-evaluation and for the one ExecuteTool.</summary>
    public ActionProposed ToProposal(JsonElement? arguments = null) =>
        new(ActionId, RunId, AgentId, Tool, arguments ?? JsonSerializer.Deserialize<JsonElement>(Arguments), IdempotencyKey, Intent, Operation, Compensates);

    /// <summary>Whether a message from the approval saga is about exactly this action.</summary>
    public bool Binds(string actionId, string runId, string agentId, string tool) =>
        actionId == ActionId && runId == RunId && agentId == AgentId && tool == Tool;
}

/// <summary>
/// policy_approvals (migration 0510): written when policy asks for an approval, then moved on under
/// a row lock by each outcome the approval saga reports, in the same transaction as the re-check and
/// the budget's release, so that two instances or a redelivered outcome never act twice.
/// </summary>
public sealed class ApprovalLedger(NpgsqlDataSource database)
{
    internal const string Columns = """
        approval_id AS ApprovalId, action_id AS ActionId, agent_id AS AgentId, run_id AS RunId, tool AS Tool, operation AS Operation, compensates AS Compensates,
        arguments_hash AS ArgumentsHash, arguments AS Arguments, idempotency_key AS IdempotencyKey, intent AS Intent,
        rule_id AS RuleId, approver_group AS ApproverGroup, quorum AS Quorum, policy_version AS PolicyVersion, status AS Status,
        consumption_id AS ConsumptionId, approvers AS Approvers, final_decision AS FinalDecision, reason_code AS ReasonCode,
        reason AS Reason, requested_at AS RequestedAt, updated_at AS UpdatedAt,
        decision_reason AS DecisionReason, decided_at AS DecidedAt, proposal_message_id AS ProposalMessageId
        """;

    /// <summary>
    /// Records the request (once: a redelivered proposal finds the first) with the approval_required
    /// decision owed to the agent, and returns the approval as it stands.
    /// </summary>
    public async Task<PolicyApproval> RecordAsync(ApprovalRequested request, string decisionReason, DateTimeOffset decidedAt,
        string? proposalMessageId, CancellationToken ct)
    {
        await using var connection = await database.OpenConnectionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO policy_approvals (approval_id, action_id, agent_id, run_id, tool, operation, compensates, arguments_hash, arguments, idempotency_key, intent,
                rule_id, approver_group, quorum, policy_version, status, requested_at, updated_at, decision_reason, decided_at, proposal_message_id)
            VALUES (@ApprovalId, @ActionId, @AgentId, @RunId, @Tool, @Operation, @Compensates, @ArgumentsHash, @Arguments, @IdempotencyKey, @Intent,
                @RuleId, @ApproverGroup, @Quorum, @PolicyVersion, 'pending', @RequestedAt, @RequestedAt, @DecisionReason, @DecidedAt, @ProposalMessageId)
            ON CONFLICT (approval_id) DO NOTHING
            """, new
        {
            request.ApprovalId, request.ActionId, request.AgentId, request.RunId, request.Tool, request.Operation, request.Compensates, request.ArgumentsHash,
            Arguments = request.Arguments.GetRawText(), request.IdempotencyKey, request.Intent, request.RuleId, request.ApproverGroup,
            request.Quorum, request.PolicyVersion, request.RequestedAt, DecisionReason = decisionReason, DecidedAt = decidedAt,
            ProposalMessageId = proposalMessageId,
        }, cancellationToken: ct));
        return await connection.QuerySingleAsync<PolicyApproval>(new CommandDefinition(
            $"SELECT {Columns} FROM policy_approvals WHERE approval_id = @ApprovalId", new { request.ApprovalId }, cancellationToken: ct));
    }

    public async Task<PolicyApproval?> FindAsync(Guid approvalId, CancellationToken ct)
    {
        await using var connection = await database.OpenConnectionAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<PolicyApproval>(new CommandDefinition(
            $"SELECT {Columns} FROM policy_approvals WHERE approval_id = @ApprovalId", new { ApprovalId = approvalId }, cancellationToken: ct));
    }

    /// <summary>Opens a transaction holding the approval's row (null approval: policy never asked for it).</summary>
    public async Task<ApprovalSession> OpenAsync(Guid approvalId, CancellationToken ct)
    {
        var connection = await database.OpenConnectionAsync(ct);
        try
        {
            var tx = await connection.BeginTransactionAsync(ct);
            var approval = await connection.QuerySingleOrDefaultAsync<PolicyApproval>(new CommandDefinition(
                $"SELECT {Columns} FROM policy_approvals WHERE approval_id = @ApprovalId FOR UPDATE", new { ApprovalId = approvalId }, tx,
                cancellationToken: ct));
            return new ApprovalSession(connection, tx, approval);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }
}

/// <summary>One outcome being handled: the locked row, and the transaction the re-check and the release join.</summary>
public sealed class ApprovalSession(NpgsqlConnection connection, NpgsqlTransaction transaction, PolicyApproval? approval) : IAsyncDisposable
{
    public NpgsqlConnection Connection => connection;
    public NpgsqlTransaction Transaction => transaction;
    public PolicyApproval? Approval => approval;

    public Task MoveAsync(string status, Guid? consumptionId, IReadOnlyList<string> approvers, DateTimeOffset now, CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition("""
            UPDATE policy_approvals SET status = @Status, consumption_id = COALESCE(@ConsumptionId, consumption_id),
                approvers = @Approvers, updated_at = @Now
            WHERE approval_id = @ApprovalId
            """, new { Status = status, ConsumptionId = consumptionId, Approvers = approvers.ToArray(), Now = now, approval!.ApprovalId },
            transaction, cancellationToken: ct));

    public Task FinishAsync(string status, Decision decision, string reasonCode, string reason, IReadOnlyList<string>? approvers,
        DateTimeOffset now, CancellationToken ct) =>
        connection.ExecuteAsync(new CommandDefinition("""
            UPDATE policy_approvals SET status = @Status, final_decision = @Decision, reason_code = @ReasonCode, reason = @Reason,
                approvers = COALESCE(@Approvers, approvers), updated_at = @Now
            WHERE approval_id = @ApprovalId
            """, new
        {
            Status = status, Decision = decision.WireName(), ReasonCode = reasonCode, Reason = reason,
            Approvers = approvers?.ToArray(), Now = now, approval!.ApprovalId,
        }, transaction, cancellationToken: ct));

    /// <summary>Proposals that repeat this action (same idempotency key, or run, tool and arguments) and wait for its end.</summary>
    public async Task<IReadOnlyList<(string ActionId, string AgentId, string RunId)>> WaitingDuplicatesAsync(CancellationToken ct) =>
        (await connection.QueryAsync<(string, string, string)>(new CommandDefinition(
            "SELECT action_id, agent_id, run_id FROM policy_actions WHERE duplicate_of = @ActionId AND outcome IS NULL",
            new { approval!.ActionId }, transaction, cancellationToken: ct))).ToList();

    public Task CommitAsync(CancellationToken ct) => transaction.CommitAsync(ct);

    public async ValueTask DisposeAsync()
    {
        await transaction.DisposeAsync();
        await connection.DisposeAsync();
    }
}
