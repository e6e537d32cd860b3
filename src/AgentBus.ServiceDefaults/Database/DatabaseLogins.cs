using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using AgentBus.Contracts;
using Npgsql;

namespace AgentBus.ServiceDefaults.Database;

/// <summary>A service's login: a LOGIN role in exactly one service group, its password in a file.</summary>
public sealed record DatabaseLogin(string Name, string Group, string PasswordFile);

public sealed record DatabaseLoginResult(DatabaseLogin Login, bool Created, bool PasswordGenerated);

/// <summary>
/// The login roles the hosts connect as (<c>agentbus db roles --logins</c>): one per service and one per
/// executor tool, each a member of its service's group role (0300) and of nothing else AgentBus defines,
/// never a superuser, never an owner. Passwords are generated once into the secrets folder (mode 600, no
/// byte order mark) and reused, so running it again changes nothing the hosts notice. Only the SCRAM
/// verifier travels to the server, so no password reaches its statement log.
/// </summary>
public static partial class DatabaseLogins
{
    public const string DefaultPrefix = "agentbus-";
    const string Alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    const long LockKey = 0x4167_656E_7452_6F6C; // "AgentRol"

    [GeneratedRegex("^[a-z][a-z0-9_-]{0,62}$")]
    private static partial Regex ValidName();

    [GeneratedRegex("^[\\x21-\\x7e]{16,}$")]
    private static partial Regex ValidPassword();

    /// <summary>Where a login's password lives: &lt;secrets&gt;/postgres/&lt;login&gt;.</summary>
    public static string PasswordFileFor(string secretsDirectory, string login) => Path.Combine(secretsDirectory, "postgres", login);

    /// <summary>The group of the operators' read-only login (<c>{prefix}auditor</c>): audit verify and anchor, runs, costs, gates.</summary>
    public const string AuditorGroup = "agentbus_auditor";

    /// <summary>The group of the operator console's login (<c>{prefix}console</c>): the auditor's reads plus the kill switch.</summary>
    public const string ConsoleGroup = "agentbus_console";

    /// <summary>
    /// <c>{prefix}policy</c>, <c>{prefix}projections</c>, <c>{prefix}approvals</c> and <c>{prefix}executor-{tool}</c>
    /// for each tool (the names of the services' broker users, so one name means one host everywhere), and
    /// <c>{prefix}auditor</c>, read-only, for the operators' audit commands, and <c>{prefix}console</c> for the operator console.
    /// </summary>
    public static IReadOnlyList<DatabaseLogin> ForServices(IEnumerable<string> tools, string secretsDirectory, string prefix = DefaultPrefix)
    {
        var logins = new List<DatabaseLogin>();
        foreach (var service in new[] { "policy", "projections", "approvals" })
            logins.Add(new(prefix + service, DatabaseRoles.ServiceGroups[service], PasswordFileFor(secretsDirectory, prefix + service)));
        foreach (var tool in tools.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            var name = prefix + BrokerUsers.ExecutorSegment + tool;
            logins.Add(new(name, DatabaseRoles.ServiceGroups["executor"], PasswordFileFor(secretsDirectory, name)));
        }
        logins.Add(new(prefix + "auditor", AuditorGroup, PasswordFileFor(secretsDirectory, prefix + "auditor")));
        logins.Add(new(prefix + "console", ConsoleGroup, PasswordFileFor(secretsDirectory, prefix + "console")));
        foreach (var login in logins)
            if (!ValidName().IsMatch(login.Name))
                throw new ArgumentException($"'{login.Name}' is not a usable login name: 1-63 characters from a-z 0-9 _ -, starting with a letter.");
        return logins;
    }

    /// <summary>Creates or updates the logins (the group roles must exist: <see cref="DatabaseRoles.EnsureAsync"/>).</summary>
    public static async Task<IReadOnlyList<DatabaseLoginResult>> EnsureAsync(string adminConnectionString, IReadOnlyList<DatabaseLogin> logins,
        CancellationToken cancellationToken = default)
    {
        var passwords = logins.Select(l => ReadOrCreatePassword(l.PasswordFile)).ToList();

        await using var connection = new NpgsqlConnection(adminConnectionString);
        await connection.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // Two `db roles` at once would otherwise race on the same role rows ("tuple concurrently updated").
        await ExecuteAsync(connection, transaction, $"SELECT pg_advisory_xact_lock({LockKey})", cancellationToken);

        var results = new List<DatabaseLoginResult>();
        for (var i = 0; i < logins.Count; i++)
        {
            var login = logins[i];
            if (!ValidName().IsMatch(login.Name))
                throw new ArgumentException($"'{login.Name}' is not a usable login name.");
            if (!DatabaseRoles.ServiceGroups.Values.Contains(login.Group, StringComparer.Ordinal) && login.Group is not (AuditorGroup or ConsoleGroup))
                throw new ArgumentException($"'{login.Group}' is not a service group role.");

            var role = Quote(login.Name);
            var verifier = ScramVerifier(passwords[i].Password);
            var created = !await ExistsAsServiceLoginAsync(connection, transaction, login.Name, cancellationToken);
            if (created)
                await ExecuteAsync(connection, transaction, $"CREATE ROLE {role} LOGIN PASSWORD '{verifier}' IN ROLE {Quote(login.Group)}", cancellationToken);
            else
            {
                await ExecuteAsync(connection, transaction, $"ALTER ROLE {role} LOGIN PASSWORD '{verifier}'", cancellationToken);
                await ExecuteAsync(connection, transaction, $"GRANT {Quote(login.Group)} TO {role}", cancellationToken);
                // Exactly one AgentBus group: a login moved from the shared agentbus_app (or another service) loses it.
                foreach (var other in await GroupsOfAsync(connection, transaction, login.Name, cancellationToken))
                    if (other != login.Group)
                        await ExecuteAsync(connection, transaction, $"REVOKE {Quote(other)} FROM {role}", cancellationToken);
            }
            results.Add(new(login, created, passwords[i].Generated));
        }
        await transaction.CommitAsync(cancellationToken);
        return results;
    }

    /// <summary>True when the role exists (and may be used); throws when it is one no service should log in as.</summary>
    static async Task<bool> ExistsAsServiceLoginAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string name, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("""
            SELECT r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls,
                   (SELECT string_agg(d.datname, ', ') FROM pg_database d WHERE d.datdba = r.oid)
            FROM pg_roles r WHERE r.rolname = @name
            """, connection, transaction);
        command.Parameters.AddWithValue("name", name);
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
            return false;
        if (reader.GetBoolean(0))
            throw new InvalidOperationException($"Role {name} exists with administrative attributes (superuser, CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS): it cannot be a service login.");
        if (!reader.IsDBNull(1))
            throw new InvalidOperationException($"Role {name} owns database(s) {reader.GetString(1)}: a service login must own nothing.");
        return true;
    }

    static async Task<List<string>> GroupsOfAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string name, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("""
            SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member
            WHERE r.rolname = @name AND g.rolname = ANY(@groups)
            """, connection, transaction);
        command.Parameters.AddWithValue("name", name);
        command.Parameters.AddWithValue("groups", DatabaseRoles.Names.ToArray());
        var groups = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            groups.Add(reader.GetString(0));
        return groups;
    }

    static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync(ct);
    }

    static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    /// <summary>The password in the file, or a new one written there (mode 600, ASCII, no BOM) when there is none.</summary>
    static (string Password, bool Generated) ReadOrCreatePassword(string path)
    {
        if (File.Exists(path) && File.ReadAllText(path).Trim() is { Length: > 0 } existing)
        {
            if (!ValidPassword().IsMatch(existing))
                throw new InvalidOperationException($"The password in {path} must be at least 16 printable ASCII characters without spaces.");
            return (existing, false);
        }

        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        // Only a folder made here is closed to others: a password file placed in an existing folder
        // (/tmp, a shared secrets root) must not change who can enter it.
        if (!Directory.Exists(folder))
        {
            Directory.CreateDirectory(folder);
            if (!OperatingSystem.IsWindows())
                File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        var password = RandomNumberGenerator.GetString(Alphabet, 32);
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var stream = new FileStream(temporary, options))
            stream.Write(Encoding.ASCII.GetBytes(password));
        try
        {
            // Another `db roles` writing the same file meanwhile wins; both then use its password.
            File.Move(temporary, path, overwrite: File.Exists(path) && new FileInfo(path).Length == 0);
            return (password, true);
        }
        catch (IOException) when (File.Exists(path))
        {
            File.Delete(temporary);
            return ReadOrCreatePassword(path);
        }
    }

    /// <summary>What PostgreSQL stores for a SCRAM-SHA-256 password (RFC 5802/7677), computed here.</summary>
    internal static string ScramVerifier(string password)
    {
        const int iterations = 4096;
        var salt = RandomNumberGenerator.GetBytes(16);
        var salted = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, 32);
        var clientKey = HMACSHA256.HashData(salted, "Client Key"u8);
        var storedKey = SHA256.HashData(clientKey);
        var serverKey = HMACSHA256.HashData(salted, "Server Key"u8);
        return $"SCRAM-SHA-256${iterations}:{Convert.ToBase64String(salt)}${Convert.ToBase64String(storedKey)}:{Convert.ToBase64String(serverKey)}";
    }
}
