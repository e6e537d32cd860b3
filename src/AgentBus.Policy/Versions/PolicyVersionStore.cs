using System.Text.Json;
using AgentBus.Policy.Engine;
using Dapper;
using Npgsql;

namespace AgentBus.Policy.Versions;

/// <summary>One recorded version: when it was in force (live) or ran as the shadow candidate, and on which instances.</summary>
public sealed record PolicyVersionPeriod(string Version, string Role, string Instance, DateTime FirstSeenAt, DateTime LastSeenAt);

/// <summary>A version as `policy history` lists it.</summary>
public sealed record PolicyVersionSummary(
    string Version, string Source, DateTime FirstRecordedAt, DateTime? LiveFrom, DateTime? LiveUntil, DateTime? ShadowFrom, DateTime? ShadowUntil,
    string Instances, long Decisions);

/// <summary>policy_versions and policy_version_periods (migration 0731): written by each policy instance, read by the CLI.</summary>
public sealed class PolicyVersionStore(NpgsqlDataSource database)
{
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Records the version's content (once) and that this instance has it loaded in the role, now.</summary>
    public async Task RecordAsync(string version, PolicyVersionContent content, string source, string instance, string role, DateTimeOffset now,
        CancellationToken ct)
    {
        await using var connection = await database.OpenConnectionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition("""
            INSERT INTO policy_versions (version, content, source, first_recorded_at) VALUES (@Version, CAST(@Content AS jsonb), @Source, @Now)
            ON CONFLICT (version) DO NOTHING;
            INSERT INTO policy_version_periods (version, instance, role, first_seen_at, last_seen_at) VALUES (@Version, @Instance, @Role, @Now, @Now)
            ON CONFLICT (version, instance, role) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at;
            """, new { Version = version, Content = JsonSerializer.Serialize(content, Json), Source = source, Instance = instance, Role = role, Now = now },
            cancellationToken: ct));
    }

    /// <summary>The version is still loaded here: moves its last-seen time on; false when its record is gone (record it again).</summary>
    public async Task<bool> TouchAsync(string version, string instance, string role, DateTimeOffset now, CancellationToken ct)
    {
        await using var connection = await database.OpenConnectionAsync(ct);
        return 1 == await connection.ExecuteAsync(new CommandDefinition(
            "UPDATE policy_version_periods SET last_seen_at = @Now WHERE version = @Version AND instance = @Instance AND role = @Role",
            new { Version = version, Instance = instance, Role = role, Now = now }, cancellationToken: ct));
    }

    public async Task<IReadOnlyList<PolicyVersionSummary>> ListAsync(DateTimeOffset since, CancellationToken ct)
    {
        await using var connection = await database.OpenConnectionAsync(ct);
        return (await connection.QueryAsync<PolicyVersionSummary>(new CommandDefinition("""
            SELECT v.version AS Version, v.source AS Source, v.first_recorded_at AS FirstRecordedAt,
                   min(p.first_seen_at) FILTER (WHERE p.role = 'live') AS LiveFrom, max(p.last_seen_at) FILTER (WHERE p.role = 'live') AS LiveUntil,
                   min(p.first_seen_at) FILTER (WHERE p.role = 'shadow') AS ShadowFrom, max(p.last_seen_at) FILTER (WHERE p.role = 'shadow') AS ShadowUntil,
                   string_agg(DISTINCT p.instance, ', ' ORDER BY p.instance) AS Instances,
                   coalesce(max(d.decisions), 0) AS Decisions
              FROM policy_versions v JOIN policy_version_periods p ON p.version = v.version
              -- One pass over the decisions for every version (policy_actions has no index on the version, on purpose: it is the hot table).
              LEFT JOIN (SELECT policy_version, count(*) AS decisions FROM policy_actions GROUP BY policy_version) d ON d.policy_version = v.version
             GROUP BY v.version, v.source, v.first_recorded_at
            HAVING max(p.last_seen_at) >= @Since
             ORDER BY coalesce(min(p.first_seen_at) FILTER (WHERE p.role = 'live'), min(p.first_seen_at)) DESC
            """, new { Since = since }, cancellationToken: ct))).ToList();
    }

    /// <summary>The stored content of a version, by its full id or an unambiguous prefix ("sha256:90848dd8", "90848dd8"); null when none matches.</summary>
    public async Task<(string Version, PolicyVersionContent Content)?> GetAsync(string version, CancellationToken ct)
    {
        var prefix = version.StartsWith("sha256:", StringComparison.Ordinal) ? version : "sha256:" + version;
        await using var connection = await database.OpenConnectionAsync(ct);
        var rows = (await connection.QueryAsync<(string Version, string Content)>(new CommandDefinition(
            "SELECT version, content::text FROM policy_versions WHERE starts_with(version, @Prefix) ORDER BY version LIMIT 2",
            new { Prefix = prefix }, cancellationToken: ct))).ToList();
        return rows switch
        {
            [var only] => (only.Version, JsonSerializer.Deserialize<PolicyVersionContent>(only.Content, Json)!),
            [] => null,
            _ => throw new AmbiguousVersionException($"'{version}' matches more than one recorded version ({rows[0].Version}, {rows[1].Version}, …); give more of it."),
        };
    }

    public async Task<IReadOnlyList<PolicyVersionPeriod>> PeriodsAsync(string version, CancellationToken ct)
    {
        await using var connection = await database.OpenConnectionAsync(ct);
        return (await connection.QueryAsync<PolicyVersionPeriod>(new CommandDefinition("""
            SELECT version AS Version, role AS Role, instance AS Instance, first_seen_at AS FirstSeenAt, last_seen_at AS LastSeenAt
              FROM policy_version_periods WHERE version = @Version ORDER BY first_seen_at
            """, new { Version = version }, cancellationToken: ct))).ToList();
    }
}

public sealed class AmbiguousVersionException(string message) : Exception(message);
