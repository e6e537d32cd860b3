using AgentBus.Contracts;
using AgentBus.ServiceDefaults.Telemetry;
using Dapper;
using MassTransit;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AgentBus.Approvals.Saga;

/// <summary>
/// Finds open approvals whose time is up (or whose escalation delay passed) and asks their saga to
/// act. Rows are claimed with <c>FOR UPDATE SKIP LOCKED</c>, so several approvals services sweep
/// without sending twice and without waiting on a row a vote is being handled on. The sweeper never
/// changes an approval itself: the saga decides under its row lock, and an approval granted in the
/// meantime stays granted. A sweep the saga did not act on is sent again after SweepResendAfter.
/// </summary>
public sealed class ApprovalSweeper(
    NpgsqlDataSource dataSource,
    ISendEndpointProvider sendEndpoints,
    TimeProvider clock,
    IOptions<ApprovalsOptions> options,
    ILogger<ApprovalSweeper> logger) : BackgroundService
{
    static readonly string ClaimExpired = $"""
        SELECT correlation_id FROM approval_sagas
        WHERE current_state IN {ApprovalStatus.In(ApprovalStatus.Pending, ApprovalStatus.Escalated)} AND expires_at <= @Now
          AND (expiry_sent_at IS NULL OR expiry_sent_at <= @ResendBefore)
        ORDER BY expires_at
        LIMIT @Batch
        FOR UPDATE SKIP LOCKED
        """;

    static readonly string ClaimEscalations = $"""
        SELECT correlation_id FROM approval_sagas
        WHERE current_state = '{ApprovalStatus.Pending}' AND escalate_at <= @Now AND expires_at > @Now
          AND (escalation_sent_at IS NULL OR escalation_sent_at <= @ResendBefore)
        ORDER BY escalate_at
        LIMIT @Batch
        FOR UPDATE SKIP LOCKED
        """;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.SweepInterval;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await SweepAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Approval sweep failed; trying again in {Interval}", interval);
            }

            try
            {
                await Task.Delay(interval, clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One pass: returns how many expiries and escalations it sent.</summary>
    public async Task<(int Expired, int Escalated)> SweepAsync(CancellationToken cancellationToken)
    {
        var expired = await ClaimAndSendAsync(ClaimExpired, "expiry_sent_at", id => new ExpireApproval(id, clock.GetUtcNow()), cancellationToken);
        var escalated = await ClaimAndSendAsync(ClaimEscalations, "escalation_sent_at", id => new EscalateApproval(id, clock.GetUtcNow()), cancellationToken);

        await using (var connection = await dataSource.OpenConnectionAsync(cancellationToken))
        {
            var open = await connection.QueryAsync<(string Tool, long Count)>(new CommandDefinition(
                $"SELECT tool, count(*) FROM approval_sagas WHERE current_state IN {ApprovalStatus.In(ApprovalStatus.Pending, ApprovalStatus.Escalated)} GROUP BY tool",
                cancellationToken: cancellationToken));
            AgentBusMetrics.ApprovalsOpen(open.ToDictionary(o => o.Tool ?? "", o => o.Count));
        }
        return (expired, escalated);
    }

    async Task<int> ClaimAndSendAsync<T>(string claim, string mark, Func<Guid, T> message, CancellationToken cancellationToken)
        where T : class
    {
        var now = clock.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var ids = (await connection.QueryAsync<Guid>(new CommandDefinition(claim, new
        {
            Now = now.ToUniversalTime(),
            ResendBefore = (now - options.Value.SweepResendAfter).ToUniversalTime(),
            Batch = options.Value.SweepBatch,
        }, transaction, cancellationToken: cancellationToken))).ToList();
        if (ids.Count == 0)
            return 0;

        // Sent while the rows are still claimed: the saga's handling of each waits for this commit,
        // and a failed send rolls the marks back so the next sweep sends again.
        var endpoint = await sendEndpoints.GetSendEndpoint(ApprovalsAddress.Queue);
        foreach (var id in ids)
            await endpoint.Send(message(id), cancellationToken);

        await connection.ExecuteAsync(new CommandDefinition($"UPDATE approval_sagas SET {mark} = @Now WHERE correlation_id = ANY(@Ids)",
            new { Now = now.ToUniversalTime(), Ids = ids.ToArray() }, transaction, cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        logger.LogInformation("Sweep sent {Count} {Message}", ids.Count, typeof(T).Name);
        return ids.Count;
    }
}
