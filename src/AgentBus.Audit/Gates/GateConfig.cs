using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace AgentBus.Audit.Gates;

/// <summary>
/// Targets for the pilot-to-autopilot gates (ops/gates.yaml). A target left out is reported but not
/// gated. Per-agent entries override the defaults one target at a time.
/// </summary>
public sealed class GateConfig
{
    /// <summary>How far back <c>agentbus gates</c> looks when --since is not given.</summary>
    public string Window { get; set; } = "30d";

    /// <summary>Fewer finished runs than this in the window: the run-based gates have no data, which fails them.</summary>
    public int MinRuns { get; set; } = 20;

    /// <summary>A run whose agent never reported its end counts (as not successful) once it has been idle this long.</summary>
    public string RunIdleTimeout { get; set; } = "1h";

    /// <summary>An authorized action younger than this without an outcome is still in flight and not counted yet.</summary>
    public string OutcomeGrace { get; set; } = "15m";

    /// <summary>HTTP methods that only read; any other method, or none, makes an action a write.</summary>
    public List<string> ReadMethods { get; set; } = ["GET", "HEAD", "OPTIONS"];

    /// <summary>Tools whose actions never write, whatever their arguments.</summary>
    public List<string> ReadOnlyTools { get; set; } = [];

    /// <summary>The policy whose grants are counted (relative paths are relative to this file).</summary>
    public string? Policy { get; set; } = "ops/policies/policy.yaml";

    public GateTargets Targets { get; set; } = GateTargets.Defaults();

    public Dictionary<string, GateTargets> Agents { get; set; } = new(StringComparer.Ordinal);

    public GateTargets TargetsFor(string agentId) =>
        Agents.TryGetValue(agentId, out var own) ? own.Over(Targets) : Targets;

    public TimeSpan WindowSpan => Duration.Parse(Window, nameof(Window));
    public TimeSpan RunIdleSpan => Duration.Parse(RunIdleTimeout, nameof(RunIdleTimeout));
    public TimeSpan OutcomeGraceSpan => Duration.Parse(OutcomeGrace, nameof(OutcomeGrace));

    static readonly IDeserializer Yaml = new DeserializerBuilder()
        .WithNamingConvention(CamelCaseNamingConvention.Instance)
        .Build();

    /// <summary>Reads a gates file; problems name the file and line.</summary>
    public static GateConfig Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new GateConfigException($"{path}: cannot read the gates file: {ex.Message}");
        }
        return Parse(text, path);
    }

    public static GateConfig Parse(string text, string source)
    {
        GateConfig? config;
        try
        {
            config = Yaml.Deserialize<GateConfig>(text);
        }
        catch (YamlException ex)
        {
            var inner = ex.InnerException is YamlException nested ? nested : ex;
            throw new GateConfigException($"{source}:{inner.Start.Line}: {inner.Message}");
        }
        config ??= new GateConfig();
        var problems = config.Problems().ToList();
        if (problems.Count > 0)
            throw new GateConfigException(string.Join(Environment.NewLine, problems.Select(p => $"{source}: {p}")));
        return config;
    }

    public IEnumerable<string> Problems()
    {
        foreach (var (name, value) in new[] { (nameof(Window), Window), (nameof(RunIdleTimeout), RunIdleTimeout), (nameof(OutcomeGrace), OutcomeGrace) })
            if (!Duration.TryParse(value, out _))
                yield return $"{Camel(name)} '{value}' is not a duration (for example 30d, 12h, 15m).";
        if (MinRuns < 0)
            yield return "minRuns must be 0 or more.";
        foreach (var problem in Targets.Problems("targets"))
            yield return problem;
        foreach (var (agent, targets) in Agents)
            foreach (var problem in targets.Problems($"agents.{agent}"))
                yield return problem;
    }

    static string Camel(string name) => char.ToLowerInvariant(name[0]) + name[1..];
}

public sealed class GateTargets
{
    /// <summary>Minimum share of runs the agent reported successful.</summary>
    public double? CompletionRate { get; set; }

    /// <summary>Maximum share of write actions that failed or whose outcome is unknown.</summary>
    public double? CriticalErrorRate { get; set; }

    /// <summary>Maximum cost (USD) per successful run.</summary>
    public decimal? CostPerSuccessfulRunUsd { get; set; }

    /// <summary>Minimum share of executions whose proposal → decision → authorization → outcome chain is complete.</summary>
    public double? AuditCoverage { get; set; }

    /// <summary>Maximum number of write grants that need no approval.</summary>
    public int? UnapprovedWriteGrants { get; set; }

    public static GateTargets Defaults() => new()
    {
        CompletionRate = 0.95,
        CriticalErrorRate = 0.01,
        CostPerSuccessfulRunUsd = 1.00m,
        AuditCoverage = 1.0,
        UnapprovedWriteGrants = 0,
    };

    public GateTargets Over(GateTargets defaults) => new()
    {
        CompletionRate = CompletionRate ?? defaults.CompletionRate,
        CriticalErrorRate = CriticalErrorRate ?? defaults.CriticalErrorRate,
        CostPerSuccessfulRunUsd = CostPerSuccessfulRunUsd ?? defaults.CostPerSuccessfulRunUsd,
        AuditCoverage = AuditCoverage ?? defaults.AuditCoverage,
        UnapprovedWriteGrants = UnapprovedWriteGrants ?? defaults.UnapprovedWriteGrants,
    };

    internal IEnumerable<string> Problems(string where)
    {
        foreach (var (name, value) in new[] { ("completionRate", CompletionRate), ("criticalErrorRate", CriticalErrorRate), ("auditCoverage", AuditCoverage) })
            if (value is < 0 or > 1)
                yield return $"{where}.{name} must be a share between 0 and 1, not {value.Value.ToString(CultureInfo.InvariantCulture)}.";
        if (CostPerSuccessfulRunUsd is < 0)
            yield return $"{where}.costPerSuccessfulRunUsd must be 0 or more.";
        if (UnapprovedWriteGrants is < 0)
            yield return $"{where}.unapprovedWriteGrants must be 0 or more.";
    }
}

public sealed class GateConfigException(string message) : Exception(message);

/// <summary>Durations as operators write them: 30d, 12h, 15m, 90s, or a .NET TimeSpan such as 01:30:00.</summary>
public static class Duration
{
    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text))
            return false;
        text = text.Trim();
        var unit = text[^1];
        if (char.IsLetter(unit) && double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var amount) && amount >= 0
            && double.IsFinite(amount))
        {
            try
            {
                value = unit switch
                {
                    'd' => TimeSpan.FromDays(amount),
                    'h' => TimeSpan.FromHours(amount),
                    'm' => TimeSpan.FromMinutes(amount),
                    's' => TimeSpan.FromSeconds(amount),
                    'w' => TimeSpan.FromDays(7 * amount),
                    _ => TimeSpan.MinValue,
                };
            }
            catch (OverflowException)
            {
                // More than TimeSpan holds (about 29,000 years): not a duration anyone means.
                return false;
            }
            return value != TimeSpan.MinValue;
        }
        return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out value) && value >= TimeSpan.Zero;
    }

    public static TimeSpan Parse(string text, string what) =>
        TryParse(text, out var value) ? value : throw new GateConfigException($"{what} '{text}' is not a duration (for example 30d, 12h, 15m).");
}
