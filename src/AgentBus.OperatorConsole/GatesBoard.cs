using AgentBus.Audit.Gates;
using AgentBus.Audit.Reports;
using AgentBus.Operations.Gates;
using Microsoft.Extensions.Options;

namespace AgentBus.OperatorConsole;

public sealed record GatesTrendPoint(DateTimeOffset Since, DateTimeOffset Until, GateReport Report);

public sealed record GatesSnapshot(DateTimeOffset ComputedAt, TimeSpan Took, GateReport Report, IReadOnlyList<GatesTrendPoint> Trend, CostReport Costs,
    DateTimeOffset CostsSince);

/// <summary>
/// The pilot-to-autopilot gates and costs, computed in the background (the same GateQuery and
/// GateEvaluator as `agentbus gates`, the same cost report as `agentbus costs`) and served from the last
/// result: each computation reads a month of the audit, far more than a page may take, so the page shows
/// when it was computed instead of making every visitor wait: rarely while nobody looks
/// (Console:GatesRefresh), at most once a minute while someone does (Console:GatesMaxAge). The trend is the
/// same gates over each of the last four weeks.
/// </summary>
public sealed class GatesBoard(GateQuery gates, CostReportQuery costs, PolicyInForce policies, IOptions<ConsoleOptions> options, TimeProvider clock,
    ILogger<GatesBoard> logger) : BackgroundService
{
    public const int TrendWeeks = 4;
    readonly SemaphoreSlim _refreshing = new(1, 1);
    volatile GatesSnapshot? _snapshot;
    volatile string? _error;

    public GatesSnapshot? Snapshot => _snapshot;

    public string? Error => _error;

    /// <summary>Asks for a fresh computation when the last one is older than Console:GatesMaxAge; never waits for it.</summary>
    public void Touch()
    {
        if (_refreshing.CurrentCount == 0 || (_snapshot is { } s && clock.GetUtcNow() - s.ComputedAt < options.Value.GatesMaxAge))
            return;
        _ = Task.Run(() => RefreshAsync(CancellationToken.None));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            await RefreshAsync(stoppingToken);
            try
            {
                await Task.Delay(options.Value.GatesRefresh, clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    public async Task RefreshAsync(CancellationToken ct)
    {
        if (!await _refreshing.WaitAsync(0, ct))
            return;
        try
        {
            var started = clock.GetUtcNow();
            var config = LoadConfig();
            var policy = policies.Current().Policy;
            var grants = policy is null ? [] : GateGrants.Of(policy);
            var since = started - config.WindowSpan;
            var report = GateEvaluator.Evaluate(since, await gates.GetAsync(since, null, null, config, grants, ct), config);
            var trend = new List<GatesTrendPoint>();
            for (var week = TrendWeeks; week >= 1; week--)
            {
                var from = started.AddDays(-7 * week);
                var until = from.AddDays(7);
                trend.Add(new(from, until, GateEvaluator.Evaluate(from, await gates.GetAsync(from, until, null, null, config, grants, ct), config)));
            }
            var costsSince = started.AddDays(-30);
            var costReport = await costs.GetAsync(null, costsSince, null, ct);
            _snapshot = new GatesSnapshot(clock.GetUtcNow(), clock.GetUtcNow() - started, report, trend, costReport, costsSince);
            _error = null;
        }
        catch (Exception ex) when (ex is Npgsql.NpgsqlException or GateConfigException or IOException or TimeoutException)
        {
            _error = ex.Message;
            logger.LogWarning(ex, "The gates could not be computed");
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            _refreshing.Release();
        }
    }

    GateConfig LoadConfig() =>
        options.Value.GatesFile is { Length: > 0 } file ? GateConfig.Load(file) : new GateConfig();
}
