using AgentBus.Policy.Engine;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AgentBus.Policy.State;

/// <summary>
/// The kill switch as this instance sees it: the policy_suspensions table, re-read several times a
/// second so a suspension reaches every policy instance within a second. The admission step also
/// re-reads it inside its transaction, so nothing is admitted after the suspension committed.
/// </summary>
public sealed class SuspensionCache(NpgsqlDataSource database, IOptions<PolicyOptions> options, ILogger<SuspensionCache> logger)
    : BackgroundService
{
    readonly Lock _gate = new();
    volatile SuspensionSet _current = SuspensionSet.None;
    long _started;
    long _applied;

    public SuspensionSet Current => _current;

    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var ticket = Interlocked.Increment(ref _started);
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        var rows = (await connection.QueryAsync<(string Kind, string Name)>(
            new CommandDefinition("SELECT kind, name FROM policy_suspensions", cancellationToken: cancellationToken))).ToList();
        var read = new SuspensionSet(rows.Where(r => r.Kind == "agent").Select(r => r.Name), rows.Where(r => r.Kind == "tool").Select(r => r.Name));
        // A slow read that started before a faster one must not overwrite it: it may predate a resume
        // (or a suspension) the faster one already saw.
        lock (_gate)
        {
            if (ticket < _applied)
                return;
            _applied = ticket;
            _current = read;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SuspensionRefreshInterval);
        var failing = false;
        do
        {
            try
            {
                await RefreshAsync(stoppingToken);
                if (failing)
                    logger.LogInformation("Reading suspensions works again");
                failing = false;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
            {
                // The last known set stays; admission re-checks inside its own transaction anyway.
                if (!failing)
                    logger.LogWarning(ex, "Cannot read suspensions; keeping the last known set");
                failing = true;
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
