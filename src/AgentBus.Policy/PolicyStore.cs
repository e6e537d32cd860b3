using System.Security.Cryptography;
using AgentBus.Policy.Engine;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace AgentBus.Policy;

/// <summary>
/// Holds the policy in force and reloads it when the file changes, without a restart. A file that
/// does not load is refused with its errors (file:line: what is wrong) and the last good version
/// stays in force; with no good version at all, there is no policy and every proposal is denied.
/// </summary>
public sealed class PolicyStore : BackgroundService, IHealthCheck
{
    readonly PolicyOptions _options;
    readonly ILogger<PolicyStore> _logger;
    volatile PolicySnapshot? _current;
    volatile IReadOnlyList<string> _lastErrors = [];
    byte[]? _lastSeenHash;

    public PolicyStore(IOptions<PolicyOptions> options, ILogger<PolicyStore> logger)
    {
        _options = options.Value;
        _logger = logger;
        Reload();
    }

    public PolicySnapshot? Current => _current;

    /// <summary>Why the most recent version of the file was refused; empty once a version loads.</summary>
    public IReadOnlyList<string> LastErrors => _lastErrors;

    /// <summary>Reads the file and swaps it in when it changed and loads; returns whether a new version is in force.</summary>
    public bool Reload()
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(_options.File);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Editors replace files by rename: a moment without the file is not a new version.
            if (_current is null && _lastSeenHash is null)
                Refuse([$"{_options.File}: cannot read the policy file: {ex.Message}"]);
            _lastSeenHash = null;
            return false;
        }

        var hash = SHA256.HashData(bytes);
        if (_lastSeenHash is not null && hash.AsSpan().SequenceEqual(_lastSeenHash))
            return false;
        _lastSeenHash = hash;

        var result = PolicyLoader.LoadFile(_options.File);
        if (result.Policy is not { } policy)
        {
            Refuse(result.Errors);
            return false;
        }

        var previous = _current;
        _current = policy;
        _lastErrors = [];
        if (previous?.Version == policy.Version)
            return false;
        _logger.LogInformation("Policy {Version} in force from {Path} (was {Previous}): {Agents} agents, {Tools} tools, {Grants} grants",
            policy.Version, _options.File, previous?.Version ?? "none", policy.Agents.Count, policy.Tools.Count, policy.Grants.Count);
        return true;
    }

    void Refuse(IReadOnlyList<string> errors)
    {
        _lastErrors = errors;
        foreach (var error in errors)
            _logger.LogError("Policy refused: {Error}", error);
        if (_current is { } inForce)
            _logger.LogError("Policy {Version} stays in force until the file is fixed", inForce.Version);
        else
            _logger.LogError("No policy is in force: every proposal will be denied with policy_unavailable");
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.ReloadInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                Reload();
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                _logger.LogError(ex, "Checking the policy file failed; the policy in force is unchanged");
            }
        }
    }

    /// <summary>Degraded, not unhealthy, without a policy: the service still answers, with denials.</summary>
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(_current is { } policy
            ? _lastErrors.Count == 0
                ? HealthCheckResult.Healthy($"policy {policy.Version}")
                : HealthCheckResult.Degraded($"policy {policy.Version} in force; the file on disk is refused: {_lastErrors[0]}")
            : HealthCheckResult.Degraded($"no policy in force: {string.Join(" ", _lastErrors)}"));
}
