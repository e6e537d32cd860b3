using Npgsql;

namespace AgentBus.ServiceDefaults.Database;

/// <summary>
/// The cluster-wide roles the schema grants to (migration 0300). Creating roles needs CREATEROLE,
/// which the database owner that applies migrations usually lacks, so an administrator runs this
/// once per PostgreSQL cluster (<c>agentbus db roles</c>); the migration then finds them in place.
/// </summary>
public static class DatabaseRoles
{
    public const string ScriptName = "0300_database_roles.sql";

    public static readonly IReadOnlyList<string> Names =
        ["agentbus_app", "agentbus_auditor", "agentbus_raw_payloads", "agentbus_audit_break_glass"];

    public static string Script()
    {
        var assembly = typeof(DatabaseRoles).Assembly;
        var resource = assembly.GetManifestResourceNames().Single(n => n.EndsWith(".Migrations." + ScriptName, StringComparison.Ordinal));
        using var stream = assembly.GetManifestResourceStream(resource)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>Creates whichever of the roles are missing; returns the ones that did not exist before.</summary>
    public static async Task<IReadOnlyList<string>> EnsureAsync(string adminConnectionString, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(adminConnectionString);
        await connection.OpenAsync(cancellationToken);
        var before = await ExistingAsync(connection, cancellationToken);
        await using (var command = new NpgsqlCommand(Script(), connection))
            await command.ExecuteNonQueryAsync(cancellationToken);
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
