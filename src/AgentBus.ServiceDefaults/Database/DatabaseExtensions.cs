using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AgentBus.ServiceDefaults.Database;

public static class DatabaseExtensions
{
    public static IHostApplicationBuilder AddAgentBusDatabase(this IHostApplicationBuilder builder)
    {
        builder.Services.AddValidatedOptions<DatabaseOptions>(DatabaseOptions.Section, DatabaseOptions.Problems);
        builder.Services.AddSingleton(services =>
        {
            var options = services.GetRequiredService<IOptions<DatabaseOptions>>().Value;
            var dataSource = new NpgsqlDataSourceBuilder(WithServiceTuning(options.ResolveConnectionString()));
            dataSource.UseLoggerFactory(services.GetRequiredService<ILoggerFactory>());
            return dataSource.Build();
        });
        // Registered before the bus so consumers never start against an old schema.
        builder.Services.AddHostedService<MigrateOnStart>();
        // Bounded: a database that stopped answering must fail the probe, not hang it.
        builder.Services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("postgresql", tags: ["ready"], timeout: TimeSpan.FromSeconds(5));
        return builder;
    }

    /// <summary>
    /// Every action runs the same few dozen statements. Prepared once per pooled connection, PostgreSQL
    /// stops parsing and planning them each time: a third less of its CPU per action in the load run
    /// (docs/performance.md). And no service keeps session state (no session SET, LISTEN, advisory lock
    /// or temporary table; only SET LOCAL inside a transaction), so a connection returned to the pool
    /// is not reset: that reset was several statements per checkout, five checkouts per action.
    /// With several hosts (<c>Host=a,b;Target Session Attributes=read-write</c>), Npgsql remembers each host's
    /// state for <c>Host Recheck Seconds</c>, 10 by default: a primary whose connection broke stays "offline",
    /// and the standby that was seen in recovery stays "standby", that long. Every write then fails with
    /// "No suitable host was found" for 10 s after any primary restart or failover, however quick, which is
    /// longer than the consumers' retries last (MessagingExtensions); at 1 s the pool looks again in time,
    /// for the price of one state query per host and second.
    /// A connection string that sets any of these options itself keeps its value.
    /// </summary>
    public static string WithServiceTuning(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (!connectionString.Contains("Auto Prepare", StringComparison.OrdinalIgnoreCase))
            builder.MaxAutoPrepare = 64;
        if (!connectionString.Contains("Reset On Close", StringComparison.OrdinalIgnoreCase))
            builder.NoResetOnClose = true;
        if (builder.Host?.Contains(',') == true && !connectionString.Contains("Recheck", StringComparison.OrdinalIgnoreCase))
            builder.HostRecheckSeconds = 1;
        return builder.ConnectionString;
    }

    /// <summary>Declares the migrations this host owns; with Database:ApplyMigrations it applies them (and the platform's) on start.</summary>
    public static IHostApplicationBuilder AddOwnedMigrations(this IHostApplicationBuilder builder, MigrationSet migrations)
    {
        builder.Services.AddSingleton(migrations);
        return builder;
    }

    sealed class MigrateOnStart(IOptions<DatabaseOptions> options, IEnumerable<MigrationSet> owned, ILogger<MigrateOnStart> logger) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            if (!options.Value.ApplyMigrations)
                return;
            var applied = await DatabaseMigrator.ApplyAsync(options.Value.ResolveConnectionString(), logger, owned, cancellationToken);
            if (applied.Count > 0)
                logger.LogInformation("Applied {Count} database migrations", applied.Count);
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
