using AgentBus.Approvals.Saga;
using Microsoft.Extensions.Options;
using YamlDotNet.RepresentationModel;

namespace AgentBus.Approvals.Approvers;

/// <summary>
/// The agent ids of the policy file (its <c>agents[].id</c>), so that no approver can carry an agent's
/// name: `agentbus approvers add` refuses one, and the approvals service refuses to sign in a bearer
/// token, an inbox session or an OIDC login under one (an agent added to the policy later locks out an
/// approver of that name). Names compare normalized (<see cref="ApprovalRules.Normalize"/>). The file is
/// read leniently (only the agents list), re-read when it changes; a file that cannot be read keeps the
/// last list read. Separation of duties does not depend on this: an approval's own agent can never vote
/// on it (<see cref="ApprovalRules.Eligibility"/>).
/// </summary>
public sealed class AgentNames
{
    readonly string? _file;
    readonly ILogger? _logger;
    readonly Lock _gate = new();
    (DateTime Modified, long Length)? _seen;
    IReadOnlySet<string> _agents = new HashSet<string>(StringComparer.Ordinal);

    public AgentNames(string? policyFile, ILogger? logger = null)
    {
        _file = string.IsNullOrWhiteSpace(policyFile) ? null : Path.GetFullPath(policyFile);
        _logger = logger;
    }

    public AgentNames(IOptions<ApprovalsOptions> options, ILogger<AgentNames> logger)
        : this(options.Value.PolicyFile, logger)
    {
    }

    /// <summary>Whether any agent is known (false when no policy file is configured).</summary>
    public bool Configured => _file is not null;

    /// <summary>The agent id <paramref name="name"/> collides with, or null.</summary>
    public string? AgentNamed(string name)
    {
        var normalized = ApprovalRules.Normalize(name);
        return Current().Contains(normalized) ? normalized : null;
    }

    IReadOnlySet<string> Current()
    {
        if (_file is null)
            return _agents;
        lock (_gate)
        {
            try
            {
                var info = new FileInfo(_file);
                if (!info.Exists)
                    return _agents;
                var stamp = (info.LastWriteTimeUtc, info.Length);
                if (_seen != stamp)
                {
                    _agents = Read(_file);
                    _seen = stamp;
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or YamlDotNet.Core.YamlException)
            {
                _logger?.LogWarning("Cannot read the agents of {File} ({Error}); the {Count} agent ids read before still apply", _file, ex.Message, _agents.Count);
            }
            return _agents;
        }
    }

    /// <summary>The normalized <c>agents[].id</c> of a policy file; nothing else in it matters here.</summary>
    public static IReadOnlySet<string> Read(string file)
    {
        var yaml = new YamlStream();
        using (var reader = new StreamReader(file))
            yaml.Load(reader);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var document in yaml.Documents)
        {
            if (document.RootNode is not YamlMappingNode root
                || !root.Children.TryGetValue(new YamlScalarNode("agents"), out var agents) || agents is not YamlSequenceNode list)
                continue;
            foreach (var agent in list.Children.OfType<YamlMappingNode>())
                if (agent.Children.TryGetValue(new YamlScalarNode("id"), out var id) && id is YamlScalarNode { Value: { Length: > 0 } value })
                    ids.Add(ApprovalRules.Normalize(value));
        }
        return ids;
    }
}
