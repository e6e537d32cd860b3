using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using AgentBus.Contracts;
using AgentBus.DataBoundaries;
using AgentBus.Policy.Engine.Rules;
using AgentBus.Catalog.Yaml;
using AgentBus.Catalog.Schemas;
using Json.Schema;
using YamlDotNet.Core;
using YamlDotNet.Serialization;

namespace AgentBus.Policy.Engine;

public sealed record PolicyLoadResult(PolicySnapshot? Policy, IReadOnlyList<string> Errors)
{
    public bool Succeeded => Policy is not null;

    /// <summary>The catalog folder the file names (full path), even when the policy is refused: a fix there is a new version too.</summary>
    public string? CatalogDirectory { get; init; }
}

/// <summary>
/// Parses, checks and compiles a policy file. Every problem is reported as "file:line: what is
/// wrong", all of them at once, and a file with any problem yields no policy at all.
/// </summary>
public static class PolicyLoader
{
    /// <summary>The capabilities a tool may declare; anything else is a typo that would hide a tool from who-can.</summary>
    public static IReadOnlyList<string> KnownCapabilities => Capabilities.Known;

    public static IReadOnlyList<string> RiskLevels => Capabilities.RiskLevels;

    static readonly TimeSpan MaxApprovalExpiry = TimeSpan.FromDays(30);

    /// <summary>A person, as `agentbus approvers add` names approvers (compared in lower case).</summary>
    public const string PersonPattern = "^[a-z0-9][a-z0-9._@-]{0,127}$";
    static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(100);

    static readonly IDeserializer Yaml = YamlReading.Deserializer();

    public static PolicyLoadResult LoadFile(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new(null, [$"{path}: cannot read the policy file: {ex.Message}"]);
        }

        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            return new(null, [$"{path}: the policy file is not valid UTF-8."]);
        }
        return Parse(text, path);
    }

    /// <param name="catalogDirectory">Where the catalog files are, instead of the folder the text names (a stored version loaded again).</param>
    public static PolicyLoadResult Parse(string text, string source, string? catalogDirectory = null)
    {
        var catalogOverride = catalogDirectory;
        PolicyDocument? document;
        try
        {
            document = Yaml.Deserialize<PolicyDocument>(text);
        }
        catch (YamlException ex)
        {
            return new(null, [$"{source}:{ex.Start.Line}: {YamlReading.Describe(ex)}"]);
        }

        if (document is null)
            return new(null, [$"{source}: the policy file is empty."]);

        var catalog = ToolCatalog.Empty;
        catalogDirectory = null;
        if (document.Catalog is { } folder)
        {
            catalogDirectory = catalogOverride ?? Path.GetFullPath(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(source)) ?? ".", folder));
            if (!Directory.Exists(catalogDirectory))
                return new(null, [$"{source}: catalog folder '{folder}' ({catalogDirectory}) does not exist."]) { CatalogDirectory = catalogDirectory };
            var loaded = CatalogLoader.LoadDirectory(catalogDirectory);
            if (loaded.Catalog is null)
                return new(null, [$"{source}: the catalog '{folder}' is refused:", .. loaded.Errors]) { CatalogDirectory = catalogDirectory };
            catalog = loaded.Catalog;
        }

        // A policy without a catalog keeps the version it always had: the hash of its text.
        var versioned = document.Catalog is null ? text : text + "\n" + catalog.Version;
        var version = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(versioned)))[..16];
        return new Compiler(source, version, catalog, catalogDirectory).Compile(document) with { CatalogDirectory = catalogDirectory };
    }


    /// <summary>The `catalog:` folder a policy text names, or null (none, or the text does not parse).</summary>
    public static string? CatalogFolderOf(string text)
    {
        try
        {
            return Yaml.Deserialize<PolicyDocument>(text)?.Catalog;
        }
        catch (YamlException)
        {
            return null;
        }
    }

    /// <summary>Parses "90s", "30m", "1h", "2d" or "hh:mm:ss".</summary>
    public static bool TryParseDuration(string? text, out TimeSpan duration) => Durations.TryParse(text, out duration);

    sealed class Compiler(string source, string version, ToolCatalog catalog, string? catalogDirectory)
    {
        readonly List<string> _errors = [];

        void Error(IHasLine? at, string message) =>
            _errors.Add(at is { Line: > 0 } ? $"{source}:{at.Line}: {message}" : $"{source}: {message}");

        public PolicyLoadResult Compile(PolicyDocument document)
        {
            var agents = CompileAgents(document);
            var teams = CompileTeams(document);
            var tools = CompileTools(document);
            var limits = document.Limits;
            var budgets = document.Budgets;
            CheckLimitsAndBudgets(limits, budgets, agents, tools);
            var grants = CompileGrants(document, agents, teams, tools, limits, budgets);

            if (_errors.Count > 0)
                return new(null, _errors);

            return new(new PolicySnapshot
            {
                Version = version,
                Source = source,
                Agents = agents,
                Tools = tools,
                Grants = grants,
                Teams = teams,
                Catalog = catalog,
                CatalogDirectory = catalogDirectory,
            }, []);
        }

        Dictionary<string, IReadOnlyList<string>> CompileTeams(PolicyDocument document)
        {
            var teams = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
            foreach (var team in document.Teams)
            {
                if (string.IsNullOrWhiteSpace(team.Id))
                {
                    Error(team, "a team has no id.");
                    continue;
                }
                var members = new List<string>();
                foreach (var member in team.Members)
                {
                    if (Person(team, member, $"team '{team.Id}': member") is { } name && !members.Contains(name))
                        members.Add(name);
                }
                if (!teams.TryAdd(team.Id, members))
                    Error(team, $"team '{team.Id}' is defined twice.");
            }
            return teams;
        }

        /// <summary>A person's name in lower case, or null (and an error) when it is not one approvers could have.</summary>
        string? Person(IHasLine at, string? name, string what)
        {
            var normalized = name?.Trim().ToLowerInvariant() ?? "";
            if (Regex.IsMatch(normalized, PersonPattern))
                return normalized;
            Error(at, $"{what} '{name}' is not a valid person name: 1-128 characters from a-z 0-9 . _ @ -, starting with a letter or digit (as `agentbus approvers add` names approvers).");
            return null;
        }

        Dictionary<string, AgentPolicy> CompileAgents(PolicyDocument document)
        {
            var agents = new Dictionary<string, AgentPolicy>(StringComparer.Ordinal);
            foreach (var agent in document.Agents)
            {
                if (string.IsNullOrWhiteSpace(agent.Id))
                {
                    Error(agent, "an agent has no id.");
                    continue;
                }
                if (!Regex.IsMatch(agent.Id, Names.Pattern))
                    Error(agent, $"agent id '{agent.Id}' is not valid: {Names.Rule("id")}");
                else if (agent.Id.StartsWith(Names.ReservedPrefix, StringComparison.Ordinal))
                    Error(agent, $"agent id '{agent.Id}' starts with '{Names.ReservedPrefix}', which is reserved for AgentBus's own broker users.");
                else if (Names.DeadLetterSuffix(agent.Id) is { } agentSuffix)
                    Error(agent, $"agent id '{agent.Id}' ends in '{agentSuffix}', which names dead-letter queues: its reply queue would be another agent's dead letters.");
                var suspended = Status(agent, agent.Status, $"agent '{agent.Id}'");
                var owner = agent.Owner is null ? null : Person(agent, agent.Owner, $"agent '{agent.Id}': owner");
                var receives = agent.Receives ?? [];
                foreach (var dataClass in receives.Where(c => !DataClasses.All.Contains(c)))
                    Error(agent, $"agent '{agent.Id}': receives names unknown data class '{dataClass}'; known: {string.Join(", ", DataClasses.All)}.");
                if (!agents.TryAdd(agent.Id, new AgentPolicy
                    {
                        Id = agent.Id, Team = agent.Team, Owner = owner, Suspended = suspended, Rollback = agent.Rollback, Line = agent.Line,
                        Receives = receives.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray(),
                    }))
                    Error(agent, $"agent '{agent.Id}' is defined twice.");
            }
            return agents;
        }

        bool Status(IHasLine at, string? status, string what)
        {
            switch (status)
            {
                case null or "active":
                    return false;
                case "suspended":
                    return true;
                default:
                    Error(at, $"{what} has status '{status}'; use active or suspended.");
                    return false;
            }
        }

        Dictionary<string, ToolPolicy> CompileTools(PolicyDocument document)
        {
            var tools = new Dictionary<string, ToolPolicy>(StringComparer.Ordinal);
            foreach (var tool in document.Tools)
            {
                if (string.IsNullOrWhiteSpace(tool.Name))
                {
                    Error(tool, "a tool has no name.");
                    continue;
                }
                if (!Regex.IsMatch(tool.Name, Names.Pattern))
                    Error(tool, $"tool name '{tool.Name}' is not valid: {Names.Rule("name")}");
                else if (Names.DeadLetterSuffix(tool.Name) is { } toolSuffix)
                    Error(tool, $"tool name '{tool.Name}' ends in '{toolSuffix}', which names dead-letter queues: its executor would be granted another tool's dead letters.");
                else if (Names.NamesAnotherExecutorsLogin(tool.Name))
                    Error(tool, $"tool name '{tool.Name}' contains '{BrokerUsers.ExecutorSegment}': its executor's database login " +
                        $"(<prefix>{BrokerUsers.ExecutorSegment}{tool.Name}) would read as another tool's, and be shown that tool's claims.");

                foreach (var capability in tool.Capabilities)
                    if (!KnownCapabilities.Contains(capability))
                        Error(tool, $"tool '{tool.Name}' declares unknown capability '{capability}'; known: {string.Join(", ", KnownCapabilities)}.");
                var risk = tool.Risk ?? "medium";
                if (!RiskLevels.Contains(risk))
                    Error(tool, $"tool '{tool.Name}' has risk '{risk}'; use one of {string.Join(", ", RiskLevels)}.");
                if (tool.UnitCostUsd < 0)
                    Error(tool, $"tool '{tool.Name}' has a negative unitCostUsd.");

                JsonSchema? schema = null;
                if (tool.Arguments is { } schemaJson)
                {
                    try
                    {
                        schema = ArgumentSchemas.Build(schemaJson, new Uri($"https://agentbus.invalid/policy/tools/{Uri.EscapeDataString(tool.Name)}/arguments"));
                    }
                    catch (Exception ex) when (ArgumentSchemas.IsBuildError(ex))
                    {
                        Error(tool, $"tool '{tool.Name}': the arguments schema is not a valid JSON Schema: {ex.Message}");
                    }
                }

                var pointers = new List<ArgumentPointer>();
                DestinationAllowList? destinations = null;
                if (tool.Destinations is { } declared)
                {
                    if (declared.From.Count == 0)
                        Error(declared, $"tool '{tool.Name}': destinations.from must name at least one argument (a JSON Pointer such as /url).");
                    foreach (var from in declared.From)
                    {
                        if (ArgumentPointer.TryParse(from, out var pointer, out var problem))
                            pointers.Add(pointer!);
                        else
                            Error(declared, $"tool '{tool.Name}': destinations.from: {problem}");
                    }
                    destinations = AllowList(declared, declared.Hosts, declared.UrlPrefixes, declared.Channels, $"tool '{tool.Name}'");
                }

                var suspended = Status(tool, tool.Status, $"tool '{tool.Name}'");
                foreach (var problem in DataBoundary.Problems(tool.Accepts, tool.Max))
                    Error(tool, $"tool '{tool.Name}': {problem}");
                var compiled = new ToolPolicy
                {
                    DataBoundary = tool.Accepts is null && tool.Max is null
                        ? DataBoundary.Closed
                        : new DataBoundary(tool.Accepts ?? [], tool.Max ?? new Dictionary<string, int>()),
                    Name = tool.Name,
                    Capabilities = tool.Capabilities.Distinct(StringComparer.Ordinal).ToArray(),
                    Risk = risk,
                    UnitCostUsd = tool.UnitCostUsd,
                    ArgumentSchema = schema,
                    ArgumentSchemaJson = tool.Arguments,
                    DestinationArguments = pointers,
                    Destinations = destinations,
                    Suspended = suspended,
                    Line = tool.Line,
                };
                if (!tools.TryAdd(tool.Name, compiled))
                    Error(tool, $"tool '{tool.Name}' is defined twice.");
            }

            foreach (var catalogTool in catalog.Tools.Values)
            {
                if (tools.TryGetValue(catalogTool.Name, out var generic))
                {
                    _errors.Add($"{source}:{generic.Line}: tool '{catalogTool.Name}' is defined here and in the catalog ({catalogTool.Source}); keep one.");
                    continue;
                }
                var operations = catalogTool.Operations.Values;
                tools[catalogTool.Name] = new ToolPolicy
                {
                    Name = catalogTool.Name,
                    Capabilities = operations.SelectMany(o => o.Capabilities).Distinct(StringComparer.Ordinal).ToArray(),
                    Risk = operations.Select(o => o.Risk).MaxBy(Capabilities.RiskRank) ?? "medium",
                    Operations = catalogTool.Operations,
                    Source = catalogTool.Source,
                    Line = catalogTool.Line,
                };
            }
            return tools;
        }

        DestinationAllowList AllowList(IHasLine at, List<string> hosts, List<string> urlPrefixes, List<string> channels, string what)
        {
            foreach (var host in hosts)
                if (string.IsNullOrWhiteSpace(host) || host.Contains('/', StringComparison.Ordinal) || host.Contains('*', StringComparison.Ordinal))
                    Error(at, $"{what}: host '{host}' must be a host name or host:port, without scheme, path or wildcard.");

            var prefixes = new List<Uri>();
            foreach (var prefix in urlPrefixes)
            {
                if (Uri.TryCreate(prefix, UriKind.Absolute, out var url) && !string.IsNullOrEmpty(url.Host) && string.IsNullOrEmpty(url.UserInfo)
                    && string.IsNullOrEmpty(url.Query) && string.IsNullOrEmpty(url.Fragment))
                    prefixes.Add(url);
                else
                    Error(at, $"{what}: URL prefix '{prefix}' must be an absolute URL with a host and no credentials, query or fragment.");
            }

            foreach (var channel in channels)
                if (string.IsNullOrWhiteSpace(channel) || channel.IndexOf('*', StringComparison.Ordinal) is >= 0 and var star && star != channel.Length - 1)
                    Error(at, $"{what}: channel '{channel}' may only end with '*'.");

            return new DestinationAllowList(hosts, prefixes, channels);
        }

        void CheckLimitsAndBudgets(PolicyDocument.LimitsSection? limits, PolicyDocument.BudgetsSection? budgets,
            Dictionary<string, AgentPolicy> agents, Dictionary<string, ToolPolicy> tools)
        {
            if (limits is not null)
            {
                if (limits.Default is { } defaults)
                    CheckAgentLimits(defaults, "limits.default");
                foreach (var (agent, entry) in limits.Agents)
                {
                    if (!agents.ContainsKey(agent))
                        Error(entry, $"limits.agents names unknown agent '{agent}'.");
                    CheckAgentLimits(entry, $"limits.agents.{agent}");
                }
                foreach (var (tool, entry) in limits.Tools)
                {
                    if (!tools.ContainsKey(tool))
                        Error(entry, $"limits.tools names unknown tool '{tool}'.");
                    if (entry.CallsPerMinute is < 1)
                        Error(entry, $"limits.tools.{tool}.callsPerMinute must be at least 1.");
                }
                foreach (var (operation, entry) in limits.Operations)
                {
                    if (catalog.Find(operation) is null)
                        Error(entry, $"limits.operations names '{operation}', which is not an operation of the catalog (tool.operation, see `agentbus tools list`).");
                    if (entry.CallsPerMinute is < 1)
                        Error(entry, $"limits.operations.{operation}.callsPerMinute must be at least 1.");
                }
            }

            if (budgets is not null)
            {
                if (budgets.Default is { } defaults)
                    CheckBudget(defaults, "budgets.default");
                foreach (var (agent, entry) in budgets.Agents)
                {
                    if (!agents.ContainsKey(agent))
                        Error(entry, $"budgets.agents names unknown agent '{agent}'.");
                    CheckBudget(entry, $"budgets.agents.{agent}");
                }
            }
        }

        void CheckAgentLimits(PolicyDocument.AgentLimitsEntry entry, string path)
        {
            if (entry.CallsPerMinute is < 1)
                Error(entry, $"{path}.callsPerMinute must be at least 1.");
            if (entry.Run is not { } run)
                return;
            if (run.MaxToolCalls is < 1)
                Error(run, $"{path}.run.maxToolCalls must be at least 1.");
            if (run.MaxRetries is < 0)
                Error(run, $"{path}.run.maxRetries must not be negative.");
            if (run.MaxDuration is { } duration && (!TryParseDuration(duration, out var parsed) || parsed <= TimeSpan.Zero))
                Error(run, $"{path}.run.maxDuration '{duration}' is not a positive duration such as 30m, 2h or 1d.");
        }

        void CheckBudget(PolicyDocument.BudgetEntry entry, string path)
        {
            if (entry.PerDayUsd is < 0)
                Error(entry, $"{path}.perDayUsd must not be negative.");
            if (entry.PerRunUsd is < 0)
                Error(entry, $"{path}.perRunUsd must not be negative.");
        }

        Dictionary<(string Agent, string Tool, string Operation), GrantPolicy> CompileGrants(PolicyDocument document,
            Dictionary<string, AgentPolicy> agents, Dictionary<string, IReadOnlyList<string>> teams, Dictionary<string, ToolPolicy> tools,
            PolicyDocument.LimitsSection? limits, PolicyDocument.BudgetsSection? budgets)
        {
            var grants = new Dictionary<(string, string, string), GrantPolicy>();
            var ids = new HashSet<string>(StringComparer.Ordinal);
            foreach (var grant in document.Grants)
            {
                if (string.IsNullOrWhiteSpace(grant.Id))
                    Error(grant, $"a grant for agent '{grant.Agent}' and tool '{grant.Tool}' has no id.");
                else if (!ids.Add(grant.Id))
                    Error(grant, $"grant id '{grant.Id}' is used twice.");
                if (!agents.ContainsKey(grant.Agent))
                    Error(grant, $"grant '{grant.Id}' names unknown agent '{grant.Agent}'.");
                if (!tools.TryGetValue(grant.Tool, out var tool))
                    Error(grant, $"grant '{grant.Id}' names unknown tool '{grant.Tool}'.");

                var constraints = grant.Constraints.Select((c, i) => Predicate(c, $"{grant.Id}/constraints/{c.Id ?? i.ToString(CultureInfo.InvariantCulture)}", $"grant '{grant.Id}'"))
                    .OfType<ArgumentPredicate>().ToList();

                DestinationAllowList? destinations = null;
                if (grant.Destinations is { } narrowed)
                {
                    destinations = AllowList(narrowed, narrowed.Hosts, narrowed.UrlPrefixes, narrowed.Channels, $"grant '{grant.Id}'");
                    if (tool is not null && tool.DestinationArguments.Count == 0)
                        Error(narrowed, $"grant '{grant.Id}' narrows destinations, but tool '{grant.Tool}' declares no destinations.from to check them against.");
                }

                foreach (var problem in DataBoundary.Problems(grant.Accepts, grant.Max))
                    Error(grant, $"grant '{grant.Id}': {problem}");

                ApprovalPolicy? approval = null;
                if (grant.Approval is { } declared)
                {
                    var ruleId = declared.Id ?? $"{grant.Id}/approval";
                    if (string.IsNullOrWhiteSpace(declared.Group))
                        Error(declared, $"grant '{grant.Id}': approval needs a group of approvers.");
                    if (declared.Approvers < 1)
                        Error(declared, $"grant '{grant.Id}': approval.approvers must be at least 1.");
                    if (!TryParseDuration(declared.Expires, out var expiry) || expiry <= TimeSpan.Zero || expiry > MaxApprovalExpiry)
                        Error(declared, $"grant '{grant.Id}': approval.expires '{declared.Expires}' must be a duration between 1s and 30d, such as 30m or 1h.");
                    var when = declared.When.Select((c, i) => Predicate(c, $"{ruleId}/when/{i}", $"grant '{grant.Id}' approval"))
                        .OfType<ArgumentPredicate>().ToList();

                    string? escalationGroup = null;
                    TimeSpan? escalationDelay = null;
                    if (declared.Escalate is { } escalate)
                    {
                        if (string.IsNullOrWhiteSpace(escalate.Group))
                            Error(escalate, $"grant '{grant.Id}': approval.escalate needs a group that may approve after the delay.");
                        else if (escalate.Group == declared.Group)
                            Error(escalate, $"grant '{grant.Id}': approval.escalate.group is the approval's own group '{declared.Group}'; name a second group.");
                        if (!TryParseDuration(escalate.After, out var after) || after <= TimeSpan.Zero || (expiry > TimeSpan.Zero && after >= expiry))
                            Error(escalate, $"grant '{grant.Id}': approval.escalate.after '{escalate.After}' must be a positive duration shorter than approval.expires ({declared.Expires}).");
                        (escalationGroup, escalationDelay) = (escalate.Group, after);
                    }

                    if (!declared.ExcludeTeam)
                        Error(declared, $"grant '{grant.Id}': approval.excludeTeam: false is not allowed: the agent's own id, its owner and its team " +
                                        "may never approve its actions (separation of duties). Remove the setting.");
                    var agent = agents.GetValueOrDefault(grant.Agent);
                    var team = agent?.Team ?? "";
                    var excluded = teams.TryGetValue(team, out var members) ? members : [];
                    approval = new ApprovalPolicy
                    {
                        RuleId = ruleId, When = when, Group = declared.Group, Approvers = declared.Approvers, Expiry = expiry, Line = declared.Line,
                        RequestedBy = agent?.Owner ?? grant.Agent,
                        AgentTeam = team,
                        ExcludedApprovers = excluded,
                        EscalationGroup = escalationGroup,
                        EscalationDelay = escalationDelay,
                        Reason = $"Grant '{grant.Id}' needs {declared.Approvers} distinct approver(s) from '{declared.Group}' within {Durations.Format(expiry)} when " +
                                 (when.Count == 0 ? "always" : string.Join(" and ", when.Select(w => w.Describe()))) +
                                 (escalationGroup is null ? "" : $"; after {Durations.Format(escalationDelay!.Value)} '{escalationGroup}' may approve too") + ".",
                    };
                }

                if (tool is null || !agents.ContainsKey(grant.Agent) || string.IsNullOrWhiteSpace(grant.Id))
                    continue;

                var acceptedByCovered = new HashSet<string>(StringComparer.Ordinal);
                foreach (var operation in CoveredOperations(grant, tool))
                {
                    acceptedByCovered.UnionWith((operation?.DataBoundary ?? tool.DataBoundary).Accepts);
                    // A rollback identity's grant for an operation that undoes nothing could never be used.
                    if (agents[grant.Agent].Rollback && !tool.Operations.Values.Any(o => o.Compensation?.Operation == operation?.Name))
                    {
                        Error(grant, $"grant '{grant.Id}' lets rollback identity '{grant.Agent}' use " +
                                     (operation is null ? $"tool '{grant.Tool}', which has no operations" : $"'{operation.FullName}', which is no operation's compensation") +
                                     "; a rollback identity may only undo (grant it the compensating operations).");
                        continue;
                    }
                    var terms = Terms(grant.Id, grant.Agent, tool, operation, limits, budgets);
                    var subject = operation is null ? $"tool '{grant.Tool}'" : $"operation '{operation.FullName}'";
                    var own = operation?.DataBoundary ?? tool.DataBoundary;
                    var narrowsData = grant.Accepts is not null || grant.Max is not null;
                    var compiled = new GrantPolicy
                    {
                        Id = grant.Id,
                        Agent = grant.Agent,
                        Tool = grant.Tool,
                        Operation = operation,
                        Constraints = constraints,
                        Destinations = destinations,
                        DataBoundary = own.Narrow(grant.Accepts, grant.Max),
                        DataBoundaryRuleId = narrowsData
                            ? $"{grant.Id}/accepts"
                            : operation is null ? $"tools/{grant.Tool}/accepts" : $"tools/{grant.Tool}/{operation.Name}/accepts",
                        Approval = approval,
                        Terms = terms,
                        Line = grant.Line,
                        Allow = new PolicyDecision(Decision.Allowed, ReasonCodes.Allowed,
                            $"Grant '{grant.Id}' lets agent '{grant.Agent}' use {subject}.", grant.Id) { Terms = terms },
                    };
                    if (!grants.TryAdd((grant.Agent, grant.Tool, operation?.Name ?? ""), compiled))
                        Error(grant, operation is null
                            ? $"agent '{grant.Agent}' has two grants for tool '{grant.Tool}'; merge them into one."
                            : $"agent '{grant.Agent}' has two grants covering operation '{operation.FullName}' ('{grants[(grant.Agent, grant.Tool, operation.Name)].Id}' and '{grant.Id}'); an operation has one grant per agent.");
                }
                // A grant only narrows: a class none of its operations accepts was meant to widen something.
                foreach (var dataClass in (grant.Accepts ?? []).Concat(grant.Max?.Keys.AsEnumerable() ?? []).Distinct(StringComparer.Ordinal))
                    if (DataClasses.All.Contains(dataClass) && !acceptedByCovered.Contains(dataClass))
                        Error(grant, $"grant '{grant.Id}' accepts or limits '{dataClass}', which none of its operations accepts; a grant can only narrow what the catalog (or the tool) accepts.");
            }
            return grants;
        }

        /// <summary>The operations a grant covers: those it lists, or all of a catalog tool's; one null for a generic tool.</summary>
        List<CatalogOperation?> CoveredOperations(PolicyDocument.GrantEntry grant, ToolPolicy tool)
        {
            if (tool.Operations.Count == 0)
            {
                if (grant.Operations is { Count: > 0 })
                    Error(grant, $"grant '{grant.Id}' lists operations, but tool '{tool.Name}' has none (it is a generic tool from the policy's tools).");
                return [null];
            }
            if (grant.Operations is null)
                return tool.Operations.Values.OrderBy(o => o.Name, StringComparer.Ordinal).ToList<CatalogOperation?>();
            if (grant.Operations.Count == 0)
                Error(grant, $"grant '{grant.Id}': operations is empty; list the operations of '{tool.Name}' it covers, or leave it out to cover them all.");
            var covered = new List<CatalogOperation?>();
            foreach (var name in grant.Operations.Distinct(StringComparer.Ordinal))
            {
                // "payments.refund" reads naturally in a grant for payments; the tool part must match.
                var local = name.StartsWith(tool.Name + ".", StringComparison.Ordinal) ? name[(tool.Name.Length + 1)..] : name;
                if (tool.Operations.TryGetValue(local, out var operation))
                    covered.Add(operation);
                else
                    Error(grant, $"grant '{grant.Id}' names operation '{name}', which tool '{tool.Name}' does not have (it has {string.Join(", ", tool.Operations.Keys.Order(StringComparer.Ordinal))}).");
            }
            return covered;
        }

        ArgumentPredicate? Predicate(PolicyDocument.PredicateEntry entry, string ruleId, string what)
        {
            if (!ArgumentPointer.TryParse(entry.Argument, out var pointer, out var problem))
            {
                Error(entry, $"{what}: argument: {problem}");
                return null;
            }
            if (entry.Min is null && entry.Max is null && entry.Above is null && entry.Below is null && entry.In is null
                && entry.Pattern is null && entry.MaxLength is null)
            {
                Error(entry, $"{what}: the rule on {entry.Argument} tests nothing; give min, max, above, below, in, pattern or maxLength.");
                return null;
            }
            if (entry.Min is { } min && entry.Max is { } max && min > max)
                Error(entry, $"{what}: min {min} is above max {max} on {entry.Argument}.");
            if (entry.In is { Count: 0 })
                Error(entry, $"{what}: 'in' on {entry.Argument} is empty, which nothing can satisfy.");
            if (entry.MaxLength is < 0)
                Error(entry, $"{what}: maxLength on {entry.Argument} must not be negative.");

            Regex? pattern = null;
            if (entry.Pattern is { } text)
            {
                try
                {
                    // Linear time whatever the input: an agent cannot stall policy with a crafted string.
                    pattern = new Regex(text, RegexOptions.CultureInvariant | RegexOptions.NonBacktracking, RegexTimeout);
                }
                catch (Exception ex) when (ex is ArgumentException or NotSupportedException)
                {
                    Error(entry, $"{what}: pattern '{text}' is not a supported regular expression (no backreferences or lookarounds): {ex.Message}");
                    return null;
                }
            }

            return new ArgumentPredicate
            {
                RuleId = ruleId,
                Pointer = pointer!,
                Min = entry.Min,
                Max = entry.Max,
                Above = entry.Above,
                Below = entry.Below,
                In = entry.In,
                Pattern = pattern,
                MaxLength = entry.MaxLength,
                Optional = entry.Optional,
                Line = entry.Line,
            };
        }

        static AdmissionTerms Terms(string grantId, string agent, ToolPolicy tool, CatalogOperation? operation,
            PolicyDocument.LimitsSection? limits, PolicyDocument.BudgetsSection? budgets)
        {
            var agentLimits = limits?.Agents.GetValueOrDefault(agent);
            var defaults = limits?.Default;

            RuleLimit<T>? Pick<T>(Func<PolicyDocument.AgentLimitsEntry, T?> read, string name) where T : struct =>
                agentLimits is not null && read(agentLimits) is { } own ? new(own, $"limits.agents.{agent}.{name}")
                : defaults is not null && read(defaults) is { } fallback ? new(fallback, $"limits.default.{name}")
                : null;

            TimeSpan? Duration(PolicyDocument.AgentLimitsEntry e) =>
                e.Run?.MaxDuration is { } text && TryParseDuration(text, out var d) ? d : null;

            var agentBudget = budgets?.Agents.GetValueOrDefault(agent);
            var defaultBudget = budgets?.Default;
            RuleLimit<decimal>? Budget(Func<PolicyDocument.BudgetEntry, decimal?> read, string name) =>
                agentBudget is not null && read(agentBudget) is { } own ? new(own, $"budgets.agents.{agent}.{name}")
                : defaultBudget is not null && read(defaultBudget) is { } fallback ? new(fallback, $"budgets.default.{name}")
                : null;

            var toolRate = limits?.Tools.GetValueOrDefault(tool.Name)?.CallsPerMinute is { } perMinute
                ? new RuleLimit<int>(perMinute, $"limits.tools.{tool.Name}.callsPerMinute")
                : null;

            var operationRate = operation is not null && limits?.Operations.GetValueOrDefault(operation.FullName)?.CallsPerMinute is { } operationPerMinute
                ? new RuleLimit<int>(operationPerMinute, $"limits.operations.{operation.FullName}.callsPerMinute")
                : null;

            return new AdmissionTerms(
                grantId,
                operation?.UnitCostUsd ?? tool.UnitCostUsd,
                Pick(e => e.CallsPerMinute, "callsPerMinute"),
                toolRate,
                Pick(e => e.Run?.MaxToolCalls, "run.maxToolCalls"),
                Pick(e => e.Run?.MaxRetries, "run.maxRetries"),
                Pick(Duration, "run.maxDuration"),
                Budget(b => b.PerDayUsd, "perDayUsd"),
                Budget(b => b.PerRunUsd, "perRunUsd"),
                operationRate);
        }
    }
}
