using System.CommandLine;
using AgentBus.ServiceDefaults.Database;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Spectre.Console;

namespace AgentBus.Cli.Commands;

static class DbCommands
{
    public static Command Create()
    {
        var postgres = Cli.Postgres();
        var migrate = new Command("migrate", "Apply pending SQL migrations (safe to run while services start: they take turns).") { postgres };
        migrate.SetAction((result, ct) => Cli.Run(async () =>
        {
            var connection = Cli.Required(result, postgres, "the database to migrate");
            var applied = await DatabaseMigrator.ApplyAsync(connection, NullLogger.Instance, ct);
            AnsiConsole.MarkupLine(applied.Count == 0
                ? "Database is up to date."
                : $"Applied {applied.Count} migration(s): {Markup.Escape(string.Join(", ", applied))}");
            return Cli.Ok;
        }));

        return new Command("db", "Database schema.") { migrate };
    }
}
