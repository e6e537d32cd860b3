using Npgsql;

namespace AgentBus.ConsoleBench;

/// <summary>
/// The benchmark's own database, created by an administrator (owned by --owner when given), and dropped
/// at the end whatever still holds it open.
/// </summary>
static class ScratchDatabase
{
    public static async Task<int> RunAsync(IReadOnlyList<string> args)
    {
        if (args.Count == 0 || args[0] is not ("create" or "drop"))
            throw new UsageException("database takes create or drop.");
        var a = new Arguments(args.Skip(1).ToList(), "--admin", "--name", "--owner");
        var name = a.Required("--name");
        // Names come from the script, but are quoted into DDL: keep them to what an identifier can hold plainly.
        if (!System.Text.RegularExpressions.Regex.IsMatch(name, "^[a-z_][a-z0-9_]{0,62}$"))
            throw new UsageException($"--name must be a plain lower-case identifier, not '{name}'.");
        await using var admin = new NpgsqlConnection(a.Required("--admin"));
        await admin.OpenAsync();
        var owner = a.Text("--owner") is { Length: > 0 } role ? $" OWNER \"{role.Replace("\"", "\"\"", StringComparison.Ordinal)}\"" : "";
        var sql = args[0] == "create" ? $"CREATE DATABASE \"{name}\"{owner}" : $"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)";
        await using var command = new NpgsqlCommand(sql, admin);
        await command.ExecuteNonQueryAsync();
        return 0;
    }
}
