using AgentBus.Policy.Proposals;
using AgentBus.Policy.State;
using Dapper;
using MassTransit;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AgentBus.Policy.Outcomes;

/// <summary>
/// Sends the outcome copies that settling an outcome left owed (policy_outcome_copies, migration 0760):
/// a duplicate gets the first action's outcome under its own action id, and a replay that came before
/// the outcome gets it again under the outcome's own id. The projections settle outcomes as they record
/// them and may not write to agents, so they leave the copies here and notify; this sends them, then
/// forgets them, in one transaction per batch: a crash between the two sends a copy twice under the
/// same message id, which agents and the audit drop. Safe to run in every policy instance at once.
/// </summary>
public sealed class OutcomeCopySender(NpgsqlDataSource database, IBus bus, IOptions<PolicyOptions> options, ILogger<OutcomeCopySender> logger)
    : BackgroundService
{
    /// <summary>The notification policy_settle_outcomes sends when it leaves a copy owed.</summary>
    public const string Channel = "agentbus_outcome_copies";

    const int Batch = 100;

    sealed record OwedCopy(string ActionId, string AgentId, string RunId, bool Republish, string OutcomeType, string OutcomePayload);

    /// <summary>Sends one batch of owed copies; returns how many it sent.</summary>
    public async Task<int> SendOwedAsync(CancellationToken ct)
    {
        await using var connection = await database.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var owed = (await connection.QueryAsync<OwedCopy>(new CommandDefinition("""
            SELECT c.action_id AS ActionId, c.agent_id AS AgentId, c.run_id AS RunId, c.republish AS Republish,
                   a.outcome_type AS OutcomeType, o.payload AS OutcomePayload
            FROM policy_outcome_copies c JOIN policy_actions a ON a.action_id = c.source_action_id
                 -- OFFSET 0 keeps the subquery whole, so the payload is read once per row.
                 CROSS JOIN LATERAL (SELECT policy_outcome_payload(a.action_id, p_strict => false) AS payload OFFSET 0) o
            WHERE a.outcome_type IS NOT NULL AND o.payload IS NOT NULL
            ORDER BY c.owed_since LIMIT @Batch FOR UPDATE OF c SKIP LOCKED
            """, new { Batch }, transaction, cancellationToken: ct))).ToList();
        if (owed.Count > 0)
        {
            await Task.WhenAll(owed.Select(copy =>
            {
                var outcome = new StoredOutcome(copy.OutcomeType, copy.OutcomePayload);
                return copy.Republish
                    ? OutcomeCopies.RepublishAsync(bus, outcome, copy.ActionId, copy.AgentId, ct)
                    : OutcomeCopies.PublishAsync(bus, outcome, copy.ActionId, copy.AgentId, copy.RunId, ct);
            }));
            await connection.ExecuteAsync(new CommandDefinition("DELETE FROM policy_outcome_copies WHERE action_id = ANY(@Ids)",
                new { Ids = owed.Select(c => c.ActionId).ToArray() }, transaction, cancellationToken: ct));
            logger.LogDebug("Sent {Count} owed outcome copies", owed.Count);
        }
        await transaction.CommitAsync(ct);
        return owed.Count;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var listener = await database.OpenConnectionAsync(stoppingToken);
                await using (var listen = new NpgsqlCommand($"LISTEN {Channel}", listener))
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                try
                {
                    while (true)
                    {
                        while (await SendOwedAsync(stoppingToken) == Batch)
                        {
                        }
                        await listener.WaitAsync(options.Value.OutcomeCopyInterval, stoppingToken);
                    }
                }
                finally
                {
                    // The pool keeps session state (No Reset On Close): the next user of this connection must not listen.
                    if (listener.State == System.Data.ConnectionState.Open)
                        await using (var unlisten = new NpgsqlCommand("UNLISTEN *", listener))
                            await unlisten.ExecuteNonQueryAsync(CancellationToken.None);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // PostgreSQL or RabbitMQ away: the copies stay owed, and are sent once both answer.
                logger.LogWarning(ex, "Sending owed outcome copies failed; will try again");
                try
                {
                    await Task.Delay(options.Value.OutcomeCopyInterval, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }
}
