using System.Security.Cryptography;
using System.Text;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace AgentBus.Policy.Engine;

public sealed record PolicyLoadResult(PolicySnapshot? Policy, IReadOnlyList<string> Errors)
{
    public bool Succeeded => Policy is not null;
}

/// <summary>Parses and checks a policy file; every problem is reported as "file:line: what is wrong".</summary>
public static class PolicyLoader
{
    static readonly IDeserializer Yaml = new DeserializerBuilder()
        .WithNamingConvention(CamelCaseNamingConvention.Instance)
        .Build();

    public static PolicyLoadResult LoadFile(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new(null, [$"{path}: cannot read the policy file: {ex.Message}"]);
        }
        return Parse(text, path);
    }

    public static PolicyLoadResult Parse(string text, string source)
    {
        PolicyDocument? document;
        try
        {
            document = Yaml.Deserialize<PolicyDocument>(text);
        }
        catch (YamlException ex)
        {
            var inner = ex.InnerException is YamlException nested ? nested : ex;
            return new(null, [$"{source}:{inner.Start.Line}: {inner.Message}"]);
        }

        if (document is null)
            return new(null, [$"{source}: the policy file is empty."]);

        var errors = new List<string>();
        var agents = new Dictionary<string, PolicyDocument.AgentEntry>(StringComparer.Ordinal);
        foreach (var agent in document.Agents)
        {
            if (string.IsNullOrWhiteSpace(agent.Id))
                errors.Add($"{source}: an agent has no id.");
            else if (!System.Text.RegularExpressions.Regex.IsMatch(agent.Id, Names.Pattern))
                errors.Add($"{source}: agent id '{agent.Id}' is not valid: {Names.Rule("id")}");
            else if (agent.Id.StartsWith(Names.ReservedPrefix, StringComparison.Ordinal))
                errors.Add($"{source}: agent id '{agent.Id}' starts with '{Names.ReservedPrefix}', which is reserved for AgentBus's own broker users.");
            else if (!agents.TryAdd(agent.Id, agent))
                errors.Add($"{source}: agent '{agent.Id}' is defined twice.");
        }

        var tools = new Dictionary<string, PolicyDocument.ToolEntry>(StringComparer.Ordinal);
        foreach (var tool in document.Tools)
        {
            if (string.IsNullOrWhiteSpace(tool.Name))
                errors.Add($"{source}: a tool has no name.");
            else if (!System.Text.RegularExpressions.Regex.IsMatch(tool.Name, Names.Pattern))
                errors.Add($"{source}: tool name '{tool.Name}' is not valid: {Names.Rule("name")}");
            else if (!tools.TryAdd(tool.Name, tool))
                errors.Add($"{source}: tool '{tool.Name}' is defined twice.");
        }

        var grants = new Dictionary<(string, string), PolicyDocument.GrantEntry>();
        foreach (var grant in document.Grants)
        {
            if (string.IsNullOrWhiteSpace(grant.Id))
                errors.Add($"{source}: a grant for agent '{grant.Agent}' and tool '{grant.Tool}' has no id.");
            if (!agents.ContainsKey(grant.Agent))
                errors.Add($"{source}: grant '{grant.Id}' names unknown agent '{grant.Agent}'.");
            if (!tools.ContainsKey(grant.Tool))
                errors.Add($"{source}: grant '{grant.Id}' names unknown tool '{grant.Tool}'.");
            if (!grants.TryAdd((grant.Agent, grant.Tool), grant))
                errors.Add($"{source}: agent '{grant.Agent}' has two grants for tool '{grant.Tool}'.");
        }

        if (errors.Count > 0)
            return new(null, errors);

        return new(new PolicySnapshot
        {
            Version = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16],
            Source = source,
            Agents = agents,
            Tools = tools,
            Grants = grants,
        }, []);
    }
}
