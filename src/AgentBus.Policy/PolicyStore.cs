using System.Collections.Concurrent;
using AgentBus.Catalog;
using AgentBus.Contracts;
using AgentBus.Policy.Engine;
using MassTransit;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace AgentBus.Policy;

/// <summary>
/// Holds the policy in force and reloads it when the file changes, without a restart. A file that
/// does not load is refused with its errors (file:line: what is wrong) and the last good version
/// stays in force; with no good version at all, there is no policy and every proposal is denied.
/// A file that is gone on two checks in a row (an editor's rename-and-replace takes less than one) is
/// refused the same way. Each refusal is published as <see cref="PolicyFileRefused"/> for the audit
/// (kept and sent again on the next check until the broker takes it), and /health/ready reports
/// Degraded for as long as the file on disk is refused or missing.
/// </summary>
public sealed class PolicyStore : BackgroundService, IHealthCheck
{
    static readonly TimeSpan PublishTimeout = TimeSpan.FromSeconds(5);

    readonly PolicyOptions _options;
    readonly ILogger<PolicyStore> _logger;
    readonly IBus? _bus;
    readonly TimeProvider _clock;
    readonly ConcurrentQueue<(Guid Id, PolicyFileRefused Refusal)> _unpublished = new();
    volatile PolicySnapshot? _current;
    volatile IReadOnlyList<string> _lastErrors = [];
    readonly PolicyFileReader _file;
    int _failedReads;

    public PolicyStore(IOptions<PolicyOptions> options, ILogger<PolicyStore> logger, IBus? bus = null, TimeProvider? clock = null)
    {
        _options = options.Value;
        _logger = logger;
        _bus = bus;
        _clock = clock ?? TimeProvider.System;
        _file = new PolicyFileReader(_options.File);
        Reload();
    }

    public PolicySnapshot? Current => _current;

    /// <summary>Why the most recent version of the file was refused; empty once a version loads.</summary>
    public IReadOnlyList<string> LastErrors => _lastErrors;

    /// <summary>Reads the file and swaps it in when it changed and loads; returns whether a new version is in force.</summary>
    public bool Reload()
    {
        var read = _file.Read();
        if (read.ReadError is { } ex)
        {
            // Editors replace files by rename: a moment without the file is not a new version, but
            // the same absence on the next check is. Refused once per absence.
            _failedReads++;
            if ((_current is null && _failedReads == 1) || (_current is not null && _failedReads == 2))
            {
                var code = ex is FileNotFoundException or DirectoryNotFoundException
                    ? PolicyRefusalCodes.PolicyFileMissing
                    : PolicyRefusalCodes.PolicyFileUnreadable;
                Refuse(code, [$"{_options.File}: cannot read the policy file: {ex.Message}"], fileVersion: null);
            }
            return false;
        }
        _failedReads = 0;
        if (!read.Changed)
            return false;
        if (read.Policy is not { } policy)
        {
            Refuse(PolicyRefusalCodes.PolicyInvalid, read.Errors, read.FileVersion);
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

    void Refuse(string code, IReadOnlyList<string> errors, string? fileVersion)
    {
        _lastErrors = errors;
        _unpublished.Enqueue((NewId.NextGuid(), new PolicyFileRefused(Path.GetFullPath(_options.File), code, errors, fileVersion, _current?.Version,
            _clock.GetUtcNow())));
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
        do
        {
            try
            {
                Reload();
                await PublishRefusalsAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                _logger.LogError(ex, "Checking the policy file failed; the policy in force is unchanged");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>Refusals for the audit, oldest first; one the broker does not take stays for the next check, with the same id.</summary>
    async Task PublishRefusalsAsync(CancellationToken stoppingToken)
    {
        if (_bus is null)
            return;
        while (_unpublished.TryPeek(out var next))
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            timeout.CancelAfter(PublishTimeout);
            try
            {
                await _bus.Publish(next.Refusal, send => send.MessageId = next.Id, timeout.Token);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                _logger.LogWarning("The refusal of the policy file could not be sent to the audit yet ({Error}); retrying on the next check", ex.Message);
                return;
            }
            _unpublished.TryDequeue(out _);
        }
    }

    /// <summary>
    /// Degraded, not unhealthy, without a policy (the service still answers, with denials) and while the
    /// file on disk is refused or gone (the last good version answers).
    /// </summary>
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(_current is { } policy
            ? _lastErrors.Count == 0
                ? HealthCheckResult.Healthy($"policy {policy.Version}")
                : HealthCheckResult.Degraded($"policy {policy.Version} in force; the file on disk is refused: {_lastErrors[0]}")
            : HealthCheckResult.Degraded($"no policy in force: {string.Join(" ", _lastErrors)}"));
}
