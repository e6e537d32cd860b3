using System.ComponentModel.DataAnnotations;

namespace AgentBus.ServiceDefaults.Database;

public sealed class DatabaseOptions
{
    public const string Section = "Database";

    /// <summary>An Npgsql connection string for the application's role.</summary>
    [Required(ErrorMessage = "Database:ConnectionString is required.")]
    public string ConnectionString { get; set; } = "";

    /// <summary>Apply pending migrations when the host starts (safe with several hosts: they take turns).</summary>
    public bool ApplyMigrations { get; set; } = true;
}
