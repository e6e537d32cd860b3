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

        var admin = new Option<string>("--postgres")
        {
            Description = "Npgsql connection string of a role with CREATEROLE, e.g. a superuser (default: $AGENTBUS_POSTGRES_ADMIN)",
            DefaultValueFactory = _ => Cli.Env("AGENTBUS_POSTGRES_ADMIN") ?? "",
        };
        var roles = new Command("roles",
            "Create the cluster-wide roles the schema grants to (agentbus_app, agentbus_auditor, agentbus_raw_payloads, " +
            "agentbus_audit_break_glass), once per PostgreSQL cluster, before `db migrate`. Idempotent.")
        {
            admin,
        };
        roles.SetAction((result, ct) => Cli.Run(async () =>
        {
            var created = await DatabaseRoles.EnsureAsync(Cli.Required(result, admin, "an administrator's connection"), ct);
            Cli.Out.MarkupLine(created.Count == 0
                ? "Database roles are in place."
                : $"Created role(s): {Markup.Escape(string.Join(", ", created))}");
            return Cli.Ok;
        }));

        return new Command("db", "Database schema and roles.") { migrate, roles };
    }
}
