using AgentBus.ServiceDefaults.Telemetry;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AgentBus.Policy.State;

/// <summary>
/// Releases reservations whose outcome never arrived (an executor down, an approval that expired)
/// and drops rate windows and idempotency claims nobody can match any more, and counts the signed
/// commands the audit has not recorded yet for the metrics. Safe to run in every policy instance at once.
/// </summary>
public sealed class StateSweeper(CostLedger ledger, NpgsqlDataSource database, TimeProvider clock,
    IOptions<PolicyOptions> options, ILogger<StateSweeper> logger) : BackgroundService
{
    const int Batch = 200;

    public async Task SweepAsync(CancellationToken ct)
    {
        int released;
        do
        {
            released = await ledger.ReleaseExpiredAsync(Batch, ct);
            if (released > 0)
                logger.LogInformation("Released {Count} expired budget reservations", released);
        }
        while (released == Batch);

        var now = clock.GetUtcNow();
        await using var connection = await database.OpenConnectionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM policy_rate_windows WHERE window_start < @Before", new { Before = now.AddMinutes(-5) }, cancellationToken: ct));
        await connection.ExecuteAsync(new CommandDefinition(
            "DELETE FROM policy_idempotency WHERE expires_at < @Before", new { Before = now.AddHours(-1) }, cancellationToken: ct));

        var waiting = await connection.QuerySingleAsync<(long Count, DateTime? Oldest)>(new CommandDefinition(
            "SELECT count(*), min(authorized_at) FROM policy_pending_authorizations", cancellationToken: ct));
        AgentBusMetrics.AuthorizationsNotYetAudited(waiting.Count,
            waiting.Oldest is { } oldest ? now - new DateTimeOffset(DateTime.SpecifyKind(oldest, DateTimeKind.Utc)) : TimeSpan.Zero);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SweepInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await SweepAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
            {
                logger.LogWarning(ex, "Sweeping policy state failed; will try again");
            }
        }
    }
}
