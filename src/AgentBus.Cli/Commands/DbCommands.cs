using System.CommandLine;
using AgentBus.Cli.Database;
using AgentBus.Policy.Engine;
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
            var applied = await DatabaseMigrator.ApplyAsync(connection, NullLogger.Instance, AgentBusSchema.All, ct);
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
        var logins = new Option<bool>("--logins")
        {
            Description = "Also create or update one login per service (policy, projections, approvals, executor-<tool> for each tool in --policy) " +
                "and a read-only one for the audit commands (auditor), each in its group role only, with a password generated once into " +
                "<secrets>/postgres/<login>",
        };
        var policy = new Option<string?>("--policy") { Description = "Policy file whose tools get an executor login (with --logins)" };
        var secrets = Cli.SecretsDirectory();
        var prefix = new Option<string>("--login-prefix")
        {
            Description = "Prefix of the login names, for several deployments on one cluster (default: agentbus-)",
            DefaultValueFactory = _ => DatabaseLogins.DefaultPrefix,
        };
        var roles = new Command("roles",
            "Create the cluster-wide group roles the schema grants to (agentbus_policy, agentbus_projections, agentbus_approvals, " +
            "agentbus_executor, agentbus_auditor, agentbus_raw_payloads, agentbus_audit_break_glass), once per PostgreSQL cluster, " +
            "before `db migrate`; with --logins, the services' logins too. Idempotent.")
        {
            admin, logins, policy, secrets, prefix,
        };
        roles.SetAction((result, ct) => Cli.Run(async () =>
        {
            var connection = Cli.Required(result, admin, "an administrator's connection");
            IReadOnlyList<DatabaseLogin> wanted = [];
            if (result.GetValue(logins))
            {
                var file = result.GetValue(policy);
                if (string.IsNullOrWhiteSpace(file))
                    throw new UsageException("--logins needs --policy: each of its tools gets an executor login.");
                var loaded = PolicyLoader.LoadFile(file);
                if (loaded.Policy is not { } snapshot)
                    throw new UsageException(string.Join(Environment.NewLine, loaded.Errors));
                try
                {
                    wanted = DatabaseLogins.ForServices(snapshot.Tools.Keys, result.GetValue(secrets)!, result.GetValue(prefix)!);
                }
                catch (ArgumentException ex)
                {
                    throw new UsageException(ex.Message);
                }
            }

            var created = await DatabaseRoles.EnsureAsync(connection, ct);
            Cli.Out.MarkupLine(created.Count == 0
                ? "Database roles are in place."
                : $"Created role(s): {Markup.Escape(string.Join(", ", created))}");
            if (wanted.Count == 0)
                return Cli.Ok;

            var results = await DatabaseLogins.EnsureAsync(connection, wanted, ct);
            var table = new Table().AddColumns("login", "group", "", "password file");
            foreach (var login in results)
                table.AddRow(Markup.Escape(login.Login.Name), Markup.Escape(login.Login.Group),
                    (login.Created ? "created" : "updated") + (login.PasswordGenerated ? ", new password" : ""), Markup.Escape(login.Login.PasswordFile));
            Cli.Out.Write(table);
            return Cli.Ok;
        }));

        return new Command("db", "Database schema and roles.") { migrate, roles };
    }
}
