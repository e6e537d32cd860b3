using AgentBus.Audit.Chain;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AgentBus.OperatorConsole.Chain;

public sealed record ChainCheck(DateTimeOffset At, TimeSpan Took, string RequestedBy, AuditVerification? Verification, string? Error);

/// <summary>
/// Verifies the audit chain in the background, with the same verifier as `agentbus audit verify` (and the
/// anchors of Console:AnchorFile), and keeps the last result for the Audit page: a verification reads the
/// whole log, which no page request may wait for. An auditor may ask for one at once.
/// </summary>
public sealed class ChainWatch(NpgsqlDataSource database, IOptions<ConsoleOptions> options, TimeProvider clock, ILogger<ChainWatch> logger)
    : BackgroundService
{
    readonly SemaphoreSlim _running = new(1, 1);
    volatile ChainCheck? _last;
    volatile bool _inProgress;

    public ChainCheck? Last => _last;

    public bool InProgress => _inProgress;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            await VerifyAsync("the console's schedule", stoppingToken);
            try
            {
                await Task.Delay(options.Value.VerifyInterval, clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Starts a verification unless one is running; returns whether it started.</summary>
    public bool Request(string requestedBy)
    {
        if (_inProgress)
            return false;
        _ = Task.Run(() => VerifyAsync(requestedBy, CancellationToken.None));
        return true;
    }

    public async Task VerifyAsync(string requestedBy, CancellationToken ct)
    {
        if (!await _running.WaitAsync(0, ct))
            return;
        _inProgress = true;
        var started = clock.GetUtcNow();
        try
        {
            var anchors = options.Value.AnchorFile is { Length: > 0 } file && File.Exists(file)
                ? AuditAnchors.Parse(await File.ReadAllTextAsync(file, ct), file)
                : [];
            var verification = await AuditVerifier.VerifyAsync(database, anchors, 20, ct);
            _last = new ChainCheck(started, clock.GetUtcNow() - started, requestedBy, verification, null);
            if (!verification.Intact)
                logger.LogError("The audit chain is broken: {Count} problem(s), the first at row {Seq}: {Detail}", verification.ProblemsFound,
                    verification.First?.Seq, verification.First?.Detail);
        }
        catch (Exception ex) when (ex is NpgsqlException or IOException or AuditAnchorFormatException or TimeoutException)
        {
            _last = new ChainCheck(started, clock.GetUtcNow() - started, requestedBy, _last?.Verification, ex.Message);
            logger.LogWarning(ex, "The audit chain could not be verified");
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            _inProgress = false;
            _running.Release();
        }
    }
}
