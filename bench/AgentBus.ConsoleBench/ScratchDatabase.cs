using Npgsql;

namespace AgentBus.ConsoleBench;

/// <summary>
/// The benchmark's own database, created by an administrator and owned by the AgentBus owner role
/// (who then migrates it, as ops/run.sh does for the real one), and dropped at the end whatever holds it open.
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
        var sql = args[0] == "create"
            ? $"CREATE DATABASE \"{name}\" OWNER \"{a.Required("--owner").Replace("\"", "\"\"", StringComparison.Ordinal)}\""
            : $"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)";
        await using var command = new NpgsqlCommand(sql, admin);
        await command.ExecuteNonQueryAsync();
        return 0;
    }
}
