using AgentBus.Policy.Engine;
using Microsoft.Extensions.Options;

namespace AgentBus.Policy.Shadow;

/// <summary>
/// The candidate policy (Policy:ShadowFile), reloaded like the live one. A file that does not load leaves
/// the last good candidate in place and is logged; it never affects the live policy or a decision.
/// </summary>
public sealed class ShadowPolicy : BackgroundService
{
    readonly PolicyOptions _options;
    readonly ILogger<ShadowPolicy> _logger;
    readonly PolicyFileReader? _file;
    volatile PolicySnapshot? _current;

    public ShadowPolicy(IOptions<PolicyOptions> options, ILogger<ShadowPolicy> logger)
    {
        _options = options.Value;
        _logger = logger;
        if (_options.ShadowFile is { Length: > 0 } path)
        {
            _file = new PolicyFileReader(path);
            Reload();
        }
    }

    /// <summary>The candidate in force, or null (none configured, or none has loaded).</summary>
    public PolicySnapshot? Current => _current;

    public void Reload()
    {
        if (_file is null)
            return;
        var read = _file.Read();
        if (read.ReadError is { } ex)
        {
            _logger.LogWarning("Shadow policy {Path} cannot be read ({Error}); {State}", _file.Path, ex.Message,
                _current is null ? "no candidate runs" : $"candidate {_current.Version} stays");
            return;
        }
        if (!read.Changed)
            return;
        if (read.Policy is not { } policy)
        {
            foreach (var error in read.Errors)
                _logger.LogError("Shadow policy refused: {Error}", error);
            return;
        }
        if (_current?.Version != policy.Version)
            _logger.LogInformation("Shadow policy {Version} runs beside the live policy (from {Path}); it decides nothing", policy.Version, _file.Path);
        _current = policy;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_file is null)
            return;
        using var timer = new PeriodicTimer(_options.ReloadInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                Reload();
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                _logger.LogError(ex, "Checking the shadow policy file failed; the candidate is unchanged");
            }
        }
    }
}
