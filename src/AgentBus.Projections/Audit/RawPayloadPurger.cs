using AgentBus.Audit;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AgentBus.Projections.Audit;

/// <summary>
/// Deletes raw payloads past their retention, every Audit:RawPayloadPurgeInterval, through
/// audit_purge_raw_payloads (which can delete expired rows and nothing else). Several projections
/// instances may run it at once: they skip each other's rows.
/// </summary>
public sealed class RawPayloadPurger(NpgsqlDataSource dataSource, IOptions<AuditOptions> options, ILogger<RawPayloadPurger> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.RawPayloadPurgeInterval);
        do
        {
            try
            {
                var purged = await RawPayloads.PurgeExpiredAsync(dataSource, stoppingToken);
                if (purged > 0)
                    logger.LogInformation("Purged {Count} expired raw audit payloads", purged);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException && !stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Purging expired raw audit payloads failed; trying again in {Interval}", options.Value.RawPayloadPurgeInterval);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
