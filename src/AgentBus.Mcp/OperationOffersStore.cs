using System.Collections.Concurrent;
using System.Text.Json;
using AgentBus.Catalog;
using AgentBus.Contracts;
using AgentBus.Policy.Engine;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using ModelContextProtocol.Server;

namespace AgentBus.Mcp;

/// <summary>
/// The policy in force as the gateway reads it (the same file the policy service enforces, reloaded
/// when it or a catalog file changes) and, per agent, the MCP tools it is offered. Each agent's tools
/// live in one collection shared by all of its sessions, so a reload that changes what an agent may
/// call is one edit to that collection, and the SDK sends notifications/tools/list_changed to every
/// session holding it. A file that does not load leaves the last good version in force.
/// </summary>
public sealed class OperationOffersStore(IOptions<GatewayOptions> options, OperationCalls calls, ILogger<OperationOffersStore> logger)
    : BackgroundService, IHealthCheck
{
    readonly GatewayOptions _options = options.Value;
    readonly ConcurrentDictionary<string, McpServerPrimitiveCollection<McpServerTool>> _tools = new(StringComparer.Ordinal);
    readonly Lock _reloading = new();
    volatile Loaded? _loaded;
    volatile IReadOnlyList<string> _errors = [];
    readonly PolicyFileReader _file = new(options.Value.PolicyFile);

    sealed record Loaded(PolicySnapshot Policy, IReadOnlyDictionary<string, CatalogOperation> ByModelName);

    public PolicySnapshot? Policy => EnsureLoaded()?.Policy;

    public IReadOnlyList<string> Errors => _errors;

    public OperationsOffer? OfferFor(string agentId) => EnsureLoaded() is { } loaded ? OperationOffers.For(loaded.Policy, agentId) : null;

    public bool KnowsAgent(string agentId) => EnsureLoaded()?.Policy.Agents.ContainsKey(agentId) == true;

    /// <summary>Any operation in the catalog by its model-facing name, granted to the caller or not.</summary>
    public CatalogOperation? FindOperation(string modelName) =>
        EnsureLoaded()?.ByModelName.GetValueOrDefault(modelName);

    /// <summary>The agent's tool collection, filled from the policy in force; sessions hold it for their lifetime.</summary>
    public McpServerPrimitiveCollection<McpServerTool> ToolsFor(string agentId) =>
        _tools.GetOrAdd(agentId, id =>
        {
            var collection = new McpServerPrimitiveCollection<McpServerTool>(StringComparer.Ordinal);
            Fill(collection, id, EnsureLoaded()?.Policy);
            return collection;
        });

    Loaded? EnsureLoaded()
    {
        if (_loaded is null)
            Reload();
        return _loaded;
    }

    /// <summary>Loads the file when it (or its catalog) changed; true when a new version is in force.</summary>
    public bool Reload()
    {
        lock (_reloading)
        {
            var read = _file.Read();
            if (read.ReadError is { } ex)
            {
                _errors = [$"{_options.PolicyFile}: cannot read the policy file: {ex.Message}"];
                return false;
            }
            if (!read.Changed)
                return false;
            if (read.Policy is not { } policy)
            {
                _errors = read.Errors;
                foreach (var error in read.Errors)
                    logger.LogError("Policy refused: {Error}", error);
                return false;
            }
            _errors = [];
            var previous = _loaded?.Policy;
            if (previous?.Version == policy.Version)
                return false;
            _loaded = new Loaded(policy, OperationOffers.ByModelName(policy));
            foreach (var (agentId, collection) in _tools)
                Fill(collection, agentId, policy);
            logger.LogInformation("Policy {Version} in force for the gateway (was {Previous})", policy.Version, previous?.Version ?? "none");
            return true;
        }
    }

    /// <summary>Changes only what differs, in one deferred batch: one list_changed per reload, none when nothing changed for this agent.</summary>
    void Fill(McpServerPrimitiveCollection<McpServerTool> collection, string agentId, PolicySnapshot? policy)
    {
        var offered = policy is null ? [] : OperationOffers.For(policy, agentId)?.Operations ?? [];
        var wanted = offered.ToDictionary(o => o.Name, o => o, StringComparer.Ordinal);
        using var batch = collection.DeferChangedEvents();
        foreach (var tool in collection.ToArray())
        {
            var existing = (OperationTool)tool;
            if (!wanted.TryGetValue(existing.Offer.Name, out var offer) || !Same(existing.Offer, offer))
                collection.Remove(tool);
        }
        foreach (var offer in offered)
            if (!collection.TryGetPrimitive(offer.Name, out _))
                collection.Add(new OperationTool(agentId, offer, calls));
    }

    static bool Same(OfferedOperation a, OfferedOperation b) =>
        JsonSerializer.Serialize(a, AgentBus.Client.AgentClient.Json) == JsonSerializer.Serialize(b, AgentBus.Client.AgentClient.Json);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.ReloadInterval);
        do
        {
            try
            {
                Reload();
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogError(ex, "Checking the policy file failed; the operations offered are unchanged");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(EnsureLoaded() is { } loaded
            ? _errors.Count == 0
                ? HealthCheckResult.Healthy($"policy {loaded.Policy.Version}")
                : HealthCheckResult.Degraded($"policy {loaded.Policy.Version} in force; the file on disk is refused: {_errors[0]}")
            : HealthCheckResult.Unhealthy($"no policy: {string.Join(" ", _errors)}"));
}
