using System.ComponentModel.DataAnnotations;
using Npgsql;

namespace AgentBus.ServiceDefaults.Database;

public sealed class DatabaseOptions
{
    public const string Section = "Database";

    /// <summary>An Npgsql connection string for the application's role.</summary>
    [Required(ErrorMessage = "Database:ConnectionString is required.")]
    public string ConnectionString { get; set; } = "";

    /// <summary>
    /// A file holding the password, which then overrides any password in the connection string,
    /// so the secret stays out of the environment (where `docker inspect` or /proc would show it).
    /// </summary>
    public string? PasswordFile { get; set; }

    /// <summary>Apply pending migrations when the host starts (safe with several hosts: they take turns).</summary>
    public bool ApplyMigrations { get; set; } = true;

    public string ResolveConnectionString()
    {
        if (string.IsNullOrEmpty(PasswordFile))
            return ConnectionString;
        return new NpgsqlConnectionStringBuilder(ConnectionString) { Password = File.ReadAllText(PasswordFile).Trim() }.ConnectionString;
    }

    internal static IEnumerable<string> Problems(DatabaseOptions options)
    {
        if (!string.IsNullOrEmpty(options.PasswordFile) && !File.Exists(options.PasswordFile))
            yield return $"{Section}:PasswordFile '{options.PasswordFile}' does not exist.";
        string? invalid = null;
        try
        {
            _ = new NpgsqlConnectionStringBuilder(options.ConnectionString);
        }
        catch (ArgumentException ex)
        {
            invalid = $"{Section}:ConnectionString is not a valid Npgsql connection string: {ex.Message}";
        }
        if (invalid is not null)
            yield return invalid;
    }
}
