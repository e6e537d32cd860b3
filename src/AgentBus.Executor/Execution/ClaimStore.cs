using AgentBus.Contracts;
using AgentBus.ServiceDefaults.Database;
using Dapper;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace AgentBus.Executor.Execution;

public enum ClaimState
{
    Running,
    Succeeded,
    Failed,
    OutcomeUnknown,
    Refused,
}

/// <summary>A claim as another delivery of the same command finds it.</summary>
public sealed record ExistingClaim(
    string ActionId,
    string AgentId,
    string Tool,
    string ArgumentsHash,
    ClaimState State,
    string Executor,
    Guid ClaimToken,
    bool HeartbeatStale,
    long ElapsedMs,
    string? OutcomeType,
    Guid? OutcomeMessageId,
    string? Outcome);

/// <summary>
/// The execution_claims table: at most one call per action id, across redeliveries and copies.
/// Every write after the claim is conditional on the claim token, so of two copies that both
/// believe they own an action (one lost its broker connection, the other got the redelivery) only
/// one outcome is ever recorded. Claims, and outcomes, that wait at the same moment are committed
/// together (<see cref="GroupCommit{TRequest,TAnswer}"/>): each still claims or finishes alone in its
/// answer, and each is committed before its caller goes on (the claim before the call, the outcome
/// before its publish).
/// </summary>
public sealed class ClaimStore
{
    /// <summary>More than a copy runs at once (Tool:ConcurrentMessageLimit, 8 by default), so one batch takes every waiting request.</summary>
    const int MaxBatch = 64;

    readonly NpgsqlDataSource dataSource;
    readonly GroupCommit<ClaimRequest, (bool Claimed, string[]? Suspended)> _claims;
    readonly GroupCommit<FinishRequest, bool> _finishes;

    public ClaimStore(NpgsqlDataSource dataSource, ILogger<ClaimStore>? logger = null)
    {
        this.dataSource = dataSource;
        var log = (ILogger?)logger ?? NullLogger.Instance;
        _claims = new("claim", ClaimTogetherAsync, MaxBatch, log);
        _finishes = new("outcome", FinishTogetherAsync, MaxBatch, log);
    }

    sealed record ClaimRequest(string ActionId, string Tool, string RunId, string AgentId, string ArgumentsHash, string Executor, Guid Token);

    sealed record FinishRequest(string ActionId, Guid Token, string State, int Attempts, string Type, Guid MessageId, string Outcome);

    const string Columns = """
        action_id AS ActionId, agent_id AS AgentId, tool AS Tool, arguments_hash AS ArgumentsHash, state AS StateText,
        executor AS Executor, claim_token AS ClaimToken, heartbeat_at < now() - @Lease AS HeartbeatStale,
        (extract(epoch FROM now() - claimed_at) * 1000)::bigint AS ElapsedMs,
        outcome_type AS OutcomeType, outcome_message_id AS OutcomeMessageId, outcome::text AS Outcome
        """;

    /// <summary>
    /// Claims the action in one statement unless its agent or tool is suspended (the kill switch is
    /// read in the same statement that claims, so there is no moment between the check and the claim).
    /// An existing claim wins over a suspension: an action that already ran is answered from its claim.
    /// </summary>
    public async Task<ClaimAttempt> TryClaimAsync(ExecuteTool command, string executor, Guid token, TimeSpan lease, CancellationToken ct)
    {
        var result = await _claims.CommitAsync(
            new ClaimRequest(command.ActionId, command.Tool, command.RunId, command.AgentId, command.ArgumentsHash, executor, token), ct);
        if (result.Claimed)
            return ClaimAttempt.Owned;
        if (await GetAsync(command.ActionId, lease, ct) is { } existing)
            // Our own token: the claim committed but its answer was lost, and the retry found the row.
            return existing.ClaimToken == token && existing.State == ClaimState.Running ? ClaimAttempt.Owned : new ClaimAttempt(existing, []);
        return new ClaimAttempt(null, result.Suspended ?? throw new InvalidOperationException(
            $"Action {command.ActionId} was neither claimed nor found nor suspended: a claim this executor may not see (another tool's, under the same action id) holds it, or it was released meanwhile; retrying."));
    }

    /// <summary>
    /// The claims in one statement. A request is claimed when its own token went in: two deliveries of
    /// one command in the same batch insert one row, and only the first owns it. Rows go in in action
    /// id order, so two copies' batches never wait for each other's rows in a cycle.
    /// </summary>
    async Task<(bool Claimed, string[]? Suspended)[]> ClaimTogetherAsync(IReadOnlyList<ClaimRequest> requests)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        var rows = await connection.QueryAsync<(long Ordinal, bool Claimed, string[]? Suspended)>("""
            WITH requests AS (
                SELECT e.n AS ordinal, r.* FROM jsonb_array_elements(CAST(@Requests AS jsonb)) WITH ORDINALITY AS e(item, n),
                    jsonb_to_record(e.item) AS r(action_id text, tool text, run_id text, agent_id text, arguments_hash text, executor text, token uuid)
            ), suspended AS (
                SELECT r.ordinal, array_agg(k.kind ORDER BY k.kind) AS kinds
                  FROM requests r JOIN kill_switch k ON (k.kind = 'agent' AND k.name = r.agent_id) OR (k.kind = 'tool' AND k.name = r.tool)
                 GROUP BY r.ordinal
            ), claimed AS (
                INSERT INTO execution_claims (action_id, tool, run_id, agent_id, arguments_hash, state, executor, claim_token)
                SELECT r.action_id, r.tool, r.run_id, r.agent_id, r.arguments_hash, 'running', r.executor, r.token
                  FROM requests r
                 WHERE NOT EXISTS (SELECT FROM suspended s WHERE s.ordinal = r.ordinal)
                 ORDER BY r.action_id, r.ordinal
                ON CONFLICT (action_id) DO NOTHING
                RETURNING claim_token
            )
            SELECT r.ordinal, EXISTS (SELECT FROM claimed c WHERE c.claim_token = r.token), s.kinds
              FROM requests r LEFT JOIN suspended s ON s.ordinal = r.ordinal
            """, new { Requests = BatchRows.ToJson(requests) });
        return BatchRows.InRequestOrder(requests.Count, rows.Select(row => (row.Ordinal, (row.Claimed, row.Suspended))));
    }

    /// <summary>
    /// Records a refusal of a signed command as the action's final state, so no later delivery can
    /// run it; null when recorded, the existing claim when the action was claimed before.
    /// </summary>
    public async Task<ExistingClaim?> RefuseAsync(ExecuteTool command, string executor, RecordedOutcome refusal, TimeSpan lease, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var inserted = await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO execution_claims (action_id, tool, run_id, agent_id, arguments_hash, state, executor, claim_token,
                                          finished_at, attempts, outcome_type, outcome_message_id, outcome)
            VALUES (@ActionId, @Tool, @RunId, @AgentId, @ArgumentsHash, 'refused', @Executor, @Token,
                    now(), 0, @Type, @MessageId, CAST(@Json AS json))
            ON CONFLICT (action_id) DO NOTHING
            """, new { command.ActionId, command.Tool, command.RunId, command.AgentId, command.ArgumentsHash, Executor = executor,
                Token = Guid.NewGuid(), refusal.Type, refusal.MessageId, refusal.Json }, cancellationToken: ct));
        if (inserted == 1)
            return null;
        return await GetAsync(connection, command.ActionId, lease, ct)
               ?? throw new InvalidOperationException($"The claim on action {command.ActionId} vanished while it was read.");
    }

    public async Task<ExistingClaim?> GetAsync(string actionId, TimeSpan lease, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        return await GetAsync(connection, actionId, lease, ct);
    }

    static async Task<ExistingClaim?> GetAsync(NpgsqlConnection connection, string actionId, TimeSpan lease, CancellationToken ct)
    {
        var row = await connection.QuerySingleOrDefaultAsync<ClaimRow>(new CommandDefinition(
            $"SELECT {Columns} FROM execution_claims WHERE action_id = @ActionId", new { ActionId = actionId, Lease = lease }, cancellationToken: ct));
        return row?.ToClaim();
    }

    /// <summary>Gives a claim back before the tool was called (the start could not be announced).</summary>
    public async Task ReleaseAsync(string actionId, Guid token, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM execution_claims WHERE action_id = @ActionId AND claim_token = @Token AND state = 'running'",
            new { ActionId = actionId, Token = token }, cancellationToken: ct));
    }

    /// <summary>Records the outcome if this attempt still owns the running claim; false when it lost it.</summary>
    public Task<bool> FinishAsync(string actionId, Guid token, RecordedOutcome outcome, CancellationToken ct) =>
        _finishes.CommitAsync(new FinishRequest(actionId, token, StateText(outcome.State), outcome.Attempts, outcome.Type, outcome.MessageId, outcome.Json), ct);

    /// <summary>
    /// The outcomes in one statement, each only where its token still owns the running claim; rows locked
    /// in action id order. A request whose outcome the claim already holds under its token is answered as
    /// recorded, so a retry after a lost commit answer publishes the outcome instead of taking it for lost.
    /// </summary>
    async Task<bool[]> FinishTogetherAsync(IReadOnlyList<FinishRequest> requests)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        var rows = await connection.QueryAsync<(long Ordinal, bool Finished)>("""
            WITH requests AS (
                SELECT e.n AS ordinal, r.* FROM jsonb_array_elements(CAST(@Requests AS jsonb)) WITH ORDINALITY AS e(item, n),
                    jsonb_to_record(e.item) AS r(action_id text, token uuid, state text, attempts integer, type text, message_id uuid, outcome text)
            ), owned AS (
                SELECT c.action_id, r.ordinal FROM execution_claims c JOIN requests r ON r.action_id = c.action_id AND r.token = c.claim_token
                 WHERE c.state = 'running'
                 ORDER BY c.action_id
                   FOR UPDATE OF c
            ), finished AS (
                UPDATE execution_claims c
                   SET state = r.state, finished_at = now(), attempts = r.attempts, outcome_type = r.type,
                       outcome_message_id = r.message_id, outcome = CAST(r.outcome AS json)
                  FROM owned o JOIN requests r ON r.ordinal = o.ordinal
                 WHERE c.action_id = o.action_id
                RETURNING r.ordinal
            )
            SELECT r.ordinal, EXISTS (SELECT FROM finished f WHERE f.ordinal = r.ordinal)
                   -- Already recorded by this very request: its commit's answer was lost and this is the retry.
                   OR EXISTS (SELECT FROM execution_claims c WHERE c.action_id = r.action_id AND c.claim_token = r.token
                                 AND c.state = r.state AND c.outcome_message_id = r.message_id AND c.outcome::text = r.outcome)
              FROM requests r
            """, new { Requests = BatchRows.ToJson(requests) });
        return BatchRows.InRequestOrder(requests.Count, rows.Select(row => (row.Ordinal, row.Finished)));
    }

    /// <summary>
    /// Declares the action outcome-unknown for a copy that stopped mid-call: only if the claim is
    /// still the one that was read and its heartbeat is still stale, so a live copy always wins.
    /// </summary>
    public async Task<bool> DeclareUnknownAsync(string actionId, Guid staleToken, TimeSpan lease, RecordedOutcome outcome, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        return await connection.ExecuteAsync(new CommandDefinition("""
            UPDATE execution_claims
               SET state = 'outcome_unknown', finished_at = now(), attempts = GREATEST(attempts, 1), outcome_type = @Type,
                   outcome_message_id = @MessageId, outcome = CAST(@Json AS json)
             WHERE action_id = @ActionId AND claim_token = @Token AND state = 'running' AND heartbeat_at < now() - @Lease
            """, new { ActionId = actionId, Token = staleToken, Lease = lease, outcome.Type, outcome.MessageId, outcome.Json },
            cancellationToken: ct)) == 1;
    }

    /// <summary>What a copy learned after losing its claim, kept beside the recorded outcome for the operator.</summary>
    public async Task RecordLateOutcomeAsync(string actionId, Guid token, string json, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE execution_claims SET late_outcome = CAST(@Json AS json) WHERE action_id = @ActionId AND claim_token = @Token",
            new { ActionId = actionId, Token = token, Json = json }, cancellationToken: ct));
    }

    /// <summary>Keeps this copy's running claims alive; one statement for all of them.</summary>
    public async Task<int> HeartbeatAsync(Guid[] tokens, CancellationToken ct)
    {
        if (tokens.Length == 0)
            return 0;
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        // Locked in action id order, as a batch of outcomes locks them.
        return await connection.ExecuteAsync(new CommandDefinition("""
            UPDATE execution_claims SET heartbeat_at = now()
             WHERE action_id IN (SELECT action_id FROM execution_claims WHERE claim_token = ANY(@Tokens) AND state = 'running'
                                  ORDER BY action_id FOR UPDATE)
               AND claim_token = ANY(@Tokens) AND state = 'running'
            """, new { Tokens = tokens }, cancellationToken: ct));
    }

    static string StateText(ClaimState state) => state switch
    {
        ClaimState.Running => "running",
        ClaimState.Succeeded => "succeeded",
        ClaimState.Failed => "failed",
        ClaimState.Refused => "refused",
        _ => "outcome_unknown",
    };

    sealed class ClaimRow
    {
        public string ActionId { get; init; } = "";
        public string AgentId { get; init; } = "";
        public string Tool { get; init; } = "";
        public string ArgumentsHash { get; init; } = "";
        public string StateText { get; init; } = "";
        public string Executor { get; init; } = "";
        public Guid ClaimToken { get; init; }
        public bool HeartbeatStale { get; init; }
        public long ElapsedMs { get; init; }
        public string? OutcomeType { get; init; }
        public Guid? OutcomeMessageId { get; init; }
        public string? Outcome { get; init; }

        public ExistingClaim ToClaim() => new(ActionId, AgentId, Tool, ArgumentsHash, StateText switch
        {
            "running" => ClaimState.Running,
            "succeeded" => ClaimState.Succeeded,
            "failed" => ClaimState.Failed,
            "refused" => ClaimState.Refused,
            _ => ClaimState.OutcomeUnknown,
        }, Executor, ClaimToken, HeartbeatStale, ElapsedMs, OutcomeType, OutcomeMessageId, Outcome);
    }
}

/// <summary>
/// What claiming found: the action is now this attempt's (<see cref="IsOwned"/>), or it was claimed
/// before (<see cref="Existing"/>), or its agent or tool is suspended (<see cref="Suspended"/>: "agent", "tool").
/// </summary>
public sealed record ClaimAttempt(ExistingClaim? Existing, IReadOnlyList<string> Suspended)
{
    public static readonly ClaimAttempt Owned = new(null, []);

    public bool IsOwned => Existing is null && Suspended.Count == 0;
}

/// <summary>An outcome event as the claim keeps it, to be published again word for word.</summary>
public sealed record RecordedOutcome(ClaimState State, int Attempts, string Type, Guid MessageId, string Json);
