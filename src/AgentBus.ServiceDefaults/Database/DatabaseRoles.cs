using Npgsql;

namespace AgentBus.ServiceDefaults.Database;

/// <summary>
/// The cluster-wide roles the schema grants to (migration 0300). Creating roles needs CREATEROLE,
/// which the database owner that applies migrations usually lacks, so an administrator runs this
/// once per PostgreSQL cluster (<c>agentbus db roles</c>); the migrations then find them in place.
/// </summary>
public static class DatabaseRoles
{
    public static readonly IReadOnlyList<string> ScriptNames = ["0300_database_roles.sql"];

    /// <summary>The group role each service's login joins (each owner's migrations grant to them).</summary>
    public static readonly IReadOnlyDictionary<string, string> ServiceGroups = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["policy"] = "agentbus_policy",
        ["projections"] = "agentbus_projections",
        ["approvals"] = "agentbus_approvals",
        ["executor"] = "agentbus_executor",
    };

    public static readonly IReadOnlyList<string> Names =
        ["agentbus_app", "agentbus_auditor", "agentbus_raw_payloads", "agentbus_audit_break_glass", "agentbus_console", .. ServiceGroups.Values];

    public static IEnumerable<string> Scripts()
    {
        var assembly = typeof(DatabaseRoles).Assembly;
        foreach (var name in ScriptNames)
        {
            var resource = assembly.GetManifestResourceNames().Single(n => n.EndsWith(".Migrations." + name, StringComparison.Ordinal));
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            yield return reader.ReadToEnd();
        }
    }

    /// <summary>Creates whichever of the roles are missing; returns the ones that did not exist before.</summary>
    public static async Task<IReadOnlyList<string>> EnsureAsync(string adminConnectionString, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(adminConnectionString);
        await connection.OpenAsync(cancellationToken);
        var before = await ExistingAsync(connection, cancellationToken);
        foreach (var script in Scripts())
        {
            await using var command = new NpgsqlCommand(script, connection);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        var after = await ExistingAsync(connection, cancellationToken);
        return after.Except(before).Order(StringComparer.Ordinal).ToList();
    }

    static async Task<HashSet<string>> ExistingAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("SELECT rolname FROM pg_roles WHERE rolname = ANY(@names)", connection);
        command.Parameters.AddWithValue("names", Names.ToArray());
        var found = new HashSet<string>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            found.Add(reader.GetString(0));
        return found;
    }
}
