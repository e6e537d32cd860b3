using Microsoft.Extensions.Options;
using Npgsql;

namespace AgentBus.Projections.Audit;

/// <summary>
/// The audit records an authorization with the action's outcome (<see cref="AuditStore"/>); every
/// Audit:AuthorizationSweepInterval this records those that have waited longer than
/// Audit:AuthorizationSweepAfter for one, so a command stuck in a queue or lost with its executor is
/// still in the audit. Several projections instances may sweep at once: they take different commands.
/// </summary>
public sealed class AuthorizationSweeper(AuditStore store, IOptions<AuditOptions> options, ILogger<AuthorizationSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.AuthorizationSweepInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                // A backlog larger than one sweep takes several, back to back.
                int written;
                do
                {
                    written = await store.SweepAuthorizationsAsync(stoppingToken);
                    if (written > 0)
                        logger.LogInformation("Recorded {Count} audit events for commands that have waited over {After} for their outcome",
                            written, options.Value.AuthorizationSweepAfter);
                }
                while (written >= AuditStore.SweepLimit && !stoppingToken.IsCancellationRequested);
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException && !stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Recording authorizations still waiting for their outcome failed; trying again in {Interval}",
                    options.Value.AuthorizationSweepInterval);
            }
        }
    }
}
