using AgentBus.Policy.Engine;
using Microsoft.Extensions.Options;

namespace AgentBus.Policy;

/// <summary>Holds the policy in force. A file that does not load leaves no policy, and no policy denies everything.</summary>
public sealed class PolicyStore
{
    readonly ILogger<PolicyStore> _logger;
    volatile PolicySnapshot? _current;

    public PolicyStore(IOptions<PolicyOptions> options, ILogger<PolicyStore> logger)
    {
        _logger = logger;
        Load(options.Value.File);
    }

    public PolicySnapshot? Current => _current;

    void Load(string path)
    {
        var result = PolicyLoader.LoadFile(path);
        if (result.Policy is { } policy)
        {
            _current = policy;
            _logger.LogInformation("Policy {Version} loaded from {Path}: {Agents} agents, {Tools} tools, {Grants} grants",
                policy.Version, path, policy.Agents.Count, policy.Tools.Count, policy.Grants.Count);
            return;
        }

        foreach (var error in result.Errors)
            _logger.LogError("Policy refused: {Error}", error);
        _logger.LogError("No policy is in force: every proposal will be denied with policy_unavailable");
    }
}
