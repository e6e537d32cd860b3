using AgentBus.Policy.Engine;
using AgentBus.Policy.Shadow;
using Microsoft.Extensions.Options;

namespace AgentBus.Policy.Versions;

/// <summary>
/// Records each version this instance puts in force (and the shadow candidate it runs), with its content,
/// and keeps its last-seen time fresh while it stays loaded. Recording is off the decision path: a
/// database that is down delays the record (it is retried on the next tick), never a decision.
/// </summary>
public sealed class PolicyVersionRecorder(
    PolicyStore live,
    ShadowPolicy shadow,
    PolicyVersionStore store,
    IOptions<PolicyOptions> options,
    TimeProvider clock,
    ILogger<PolicyVersionRecorder> logger) : BackgroundService
{
    static readonly TimeSpan Tick = TimeSpan.FromSeconds(1);

    readonly Dictionary<string, (string Version, DateTimeOffset TouchedAt)> _recorded = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Tick, clock);
        do
        {
            await RecordAsync("live", live.Current, stoppingToken);
            await RecordAsync("shadow", shadow.Current, stoppingToken);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    async Task RecordAsync(string role, PolicySnapshot? policy, CancellationToken ct)
    {
        if (policy is null)
            return;
        var now = clock.GetUtcNow();
        var instance = options.Value.InstanceName;
        try
        {
            if (!_recorded.TryGetValue(role, out var recorded) || recorded.Version != policy.Version)
            {
                // The file may have changed since it was loaded: then this is not that version's content, and the next load records the newer.
                if (PolicyVersionContent.Capture(policy) is not { } content)
                    return;
                await store.RecordAsync(policy.Version, content, Path.GetFullPath(policy.Source), instance, role, now, ct);
                _recorded[role] = (policy.Version, now);
                logger.LogInformation("Policy version {Version} recorded ({Role}, instance {Instance})", policy.Version, role, instance);
            }
            else if (now - recorded.TouchedAt >= options.Value.VersionHeartbeat)
            {
                if (await store.TouchAsync(policy.Version, instance, role, now, ct))
                    _recorded[role] = (policy.Version, now);
                else
                    _recorded.Remove(role);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning("Recording policy version {Version} ({Role}) failed, retrying: {Error}", policy.Version, role, ex.Message);
        }
    }
}
