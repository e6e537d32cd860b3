using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace AgentBus.Executor.Execution;

/// <summary>
/// Keeps the claims of the calls this copy is making alive: every third of the lease, one UPDATE
/// for all of them. When the process dies the heartbeats stop, and after one lease another copy
/// may declare those actions outcome-unknown. Registered before the bus, so it stops after the bus
/// has let the in-flight calls finish.
/// </summary>
public sealed class ClaimHeartbeat(ClaimStore claims, IOptions<ExecutorOptions> options, ILogger<ClaimHeartbeat> logger) : BackgroundService
{
    readonly ConcurrentDictionary<Guid, byte> _running = new();

    public void Add(Guid token) => _running.TryAdd(token, 0);

    public void Remove(Guid token) => _running.TryRemove(token, out _);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ClaimLease / 3);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            var tokens = _running.Keys.ToArray();
            if (tokens.Length == 0)
                continue;
            try
            {
                await claims.HeartbeatAsync(tokens, stoppingToken);
            }
            catch (Exception ex) when (ex is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException)
            {
                logger.LogWarning("Could not renew {Count} running claims: {Error}", tokens.Length, ex.Message);
            }
        }
    }
}
