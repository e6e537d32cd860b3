using DbUp;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace AgentBus.ServiceDefaults.Database;

/// <summary>
/// Applies the ordered SQL files under Database/Migrations, each once, recorded in DbUp's journal.
/// A PostgreSQL advisory lock serialises hosts that start together.
/// </summary>
public static class DatabaseMigrator
{
    const long LockKey = 0x4167_656E_7442_7573; // "AgentBus"

    public static async Task<IReadOnlyList<string>> ApplyAsync(string connectionString, ILogger logger, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using (var take = new NpgsqlCommand("SELECT pg_advisory_lock(@key)", connection))
        {
            take.Parameters.AddWithValue("key", LockKey);
            await take.ExecuteNonQueryAsync(cancellationToken);
        }

        try
        {
            var engine = DeployChanges.To
                .PostgresqlDatabase(connectionString)
                .WithScriptsEmbeddedInAssembly(typeof(DatabaseMigrator).Assembly, name => name.Contains(".Migrations.", StringComparison.Ordinal))
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
