using DbUp;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace AgentBus.ServiceDefaults.Database;

/// <summary>
/// Applies the platform's migrations and the given owners', each once in file-name order, recorded in
/// DbUp's journal by file name. A host applies only what it owns; `agentbus db migrate` applies all.
/// A PostgreSQL advisory lock serialises hosts that start together.
/// </summary>
public static class DatabaseMigrator
{
    const long LockKey = 0x4167_656E_7442_7573; // "AgentBus"

    /// <summary>The journal's names before migrations had owners: the one assembly they were embedded in.</summary>
    const string LegacyPrefix = "AgentBus.ServiceDefaults.Database.Migrations.";

    public static async Task<IReadOnlyList<string>> ApplyAsync(string connectionString, ILogger logger, IEnumerable<MigrationSet> owners,
        CancellationToken cancellationToken = default)
    {
        var scripts = Union([MigrationSet.Platform, .. owners]);
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using (var take = new NpgsqlCommand("SELECT pg_advisory_lock(@key)", connection))
        {
            take.Parameters.AddWithValue("key", LockKey);
            await take.ExecuteNonQueryAsync(cancellationToken);
        }

        try
        {
            await using (var rename = new NpgsqlCommand(
                             "DO $$ BEGIN IF to_regclass('public.schemaversions') IS NOT NULL THEN " +
                             $"UPDATE schemaversions SET scriptname = substr(scriptname, {LegacyPrefix.Length + 1}) WHERE starts_with(scriptname, '{LegacyPrefix}'); " +
                             "END IF; END $$", connection))
                await rename.ExecuteNonQueryAsync(cancellationToken);

            var engine = DeployChanges.To
                .PostgresqlDatabase(connectionString)
                .WithScripts(scripts)
                .WithTransactionPerScript()
                .LogTo(new QuietLogger(logger))
                .Build();

            var result = engine.PerformUpgrade();
            if (!result.Successful)
                throw new InvalidOperationException($"Migration {result.ErrorScript?.Name ?? "(unknown)"} failed: {result.Error.Message}", result.Error);
            return result.Scripts.Select(s => s.Name).ToList();
        }
        finally
        {
            await using var release = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", connection);
            release.Parameters.AddWithValue("key", LockKey);
            await release.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    static List<DbUp.Engine.SqlScript> Union(IEnumerable<MigrationSet> owners)
    {
        var scripts = new List<DbUp.Engine.SqlScript>();
        var ownerOf = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var owner in owners.DistinctBy(o => o.Owner))
            foreach (var script in owner.Scripts())
            {
                if (!ownerOf.TryAdd(script.Name, owner.Owner))
                    throw new InvalidOperationException($"Migration {script.Name} is claimed by both {ownerOf[script.Name]} and {owner.Owner}.");
                scripts.Add(script);
            }
        return scripts.OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
    }

    /// <summary>DbUp narrates every step at Information; a host only needs to hear about problems.</summary>
    sealed class QuietLogger(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning && inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
                inner.Log(logLevel, eventId, state, exception, formatter);
        }
    }
}
