using System.CommandLine;
using System.Security.Cryptography;
using AgentBus.Audit.Redaction;
using AgentBus.Cli.Commands;
using AgentBus.IntegrationTests.Infrastructure;
using AgentBus.Projections.Audit;
using AgentBus.ServiceDefaults.Database;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;
using Spectre.Console;

namespace AgentBus.IntegrationTests.Audit;

/// <summary>
/// The pipeline with every host connected as it should be in production: policy, projections and each
/// executor as its own login (`agentbus db roles --logins`) in its service's group role, migrations
/// applied beforehand by the owner; only the projections may append to the audit. Also a login role in
/// agentbus_raw_payloads and one that is given ownership of the audit table when a test needs an owner.
/// The roles are cluster-wide, so their names carry the fixture's suffix and they are dropped afterwards.
/// </summary>
public sealed class AuditFixture : PipelineFixture
{
    readonly string _password = RandomNumberGenerator.GetString("abcdefghijkmnopqrstuvwxyz23456789", 24);
    readonly string _loginSecrets = Directory.CreateTempSubdirectory("agentbus-audit-logins-").FullName;
    IReadOnlyList<DatabaseLogin> _logins = [];
    bool _rolesCreated;
    NpgsqlDataSource? _superuser;
    NpgsqlDataSource? _app;

    string Suffix => DatabaseName[^8..];
    string LoginPrefix => $"agentbus-t{Suffix}-";
    public string AppRole => LoginPrefix + "projections";
    public string RawRole => $"agentbus_t_raw_{Suffix}";
    public string OwnerRole => $"agentbus_t_owner_{Suffix}";

    /// <summary>The projections host's login.</summary>
    public string AppConnectionString => LoginConnectionString(AppRole);
    public string RawConnectionString => As(RawRole);
    public string OwnerConnectionString => As(OwnerRole);

    /// <summary>The test database as the superuser (the migrations' owner here): for tampering and for reading everything.</summary>
    public NpgsqlDataSource Superuser => _superuser ??= NpgsqlDataSource.Create(ConnectionString);

    public NpgsqlDataSource App => _app ??= NpgsqlDataSource.Create(AppConnectionString);

    /// <summary>A service's own login (policy, executor-payments, …), as its host connects; the caller disposes it.</summary>
    public NpgsqlDataSource LoginDataSource(string service) => NpgsqlDataSource.Create(LoginConnectionString(LoginPrefix + service));

    string As(string role) => new NpgsqlConnectionStringBuilder(ConnectionString) { Username = role, Password = _password }.ConnectionString;

    string LoginConnectionString(string login) => new NpgsqlConnectionStringBuilder(ConnectionString)
    {
        Username = login, Password = File.ReadAllText(DatabaseLogins.PasswordFileFor(_loginSecrets, login)).Trim(),
    }.ConnectionString;

    /// <summary>What ops/run.sh does before it starts the hosts: cluster roles and logins, then the migrations.</summary>
    protected override async Task PrepareDatabaseAsync()
    {
        await DatabaseRoles.EnsureAsync(Servers.PostgresAdmin);
        await DatabaseMigrator.ApplyAsync(ConnectionString, NullLogger.Instance, AgentBus.Cli.Database.AgentBusSchema.All);
        _rolesCreated = true;
        _logins = DatabaseLogins.ForServices(Tools, _loginSecrets, LoginPrefix);
        await DatabaseLogins.EnsureAsync(Servers.PostgresAdmin, _logins);
        await using var connection = new NpgsqlConnection(Servers.PostgresAdmin);
        await connection.OpenAsync();
        foreach (var (role, group) in new[] { (RawRole, "IN ROLE agentbus_raw_payloads"), (OwnerRole, "") })
        {
            await using var command = new NpgsqlCommand($"CREATE ROLE \"{role}\" LOGIN PASSWORD '{_password}' {group}", connection);
            await command.ExecuteNonQueryAsync();
        }
    }

    protected override void ConfigureHost(string brokerUser, WebApplicationBuilder builder)
    {
        // The broker user agentbus-policy connects to the database as <prefix>policy, and so on.
        if (!brokerUser.StartsWith("agentbus-", StringComparison.Ordinal)
            || _logins.FirstOrDefault(l => l.Name == LoginPrefix + brokerUser["agentbus-".Length..]) is not { } login)
            return;
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Database:ConnectionString"] = new NpgsqlConnectionStringBuilder(ConnectionString) { Username = login.Name, Password = null }.ConnectionString,
            ["Database:PasswordFile"] = login.PasswordFile,
            ["Database:ApplyMigrations"] = "false",
        });
        if (brokerUser == "agentbus-projections")
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Audit:BatchTimeLimit"] = "00:00:00.020",
                ["Audit:Redaction:Tools:ticketing:0"] = "body.customer.phone",
            });
    }

    /// <summary>A writer like the projections host's, connected as the application role.</summary>
    public AuditStore NewStore(AuditOptions? options = null) =>
        new(App, AuditRedactor.Default, Options.Create(options ?? new AuditOptions()), TimeProvider.System, NullLogger<AuditStore>.Instance);

    public async Task ExecuteAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Runs the agentbus CLI in-process and returns its exit code and what it printed.</summary>
    public static async Task<(int Exit, string Output)> CliAsync(params string[] args)
    {
        var root = new RootCommand
        {
            DbCommands.Create(), AuditCommands.Create(), RunsCommands.Create(), ActionsCommands.Create(), CostsCommand.Create(), GatesCommand.Create(),
            PolicyCommands.Create(),
        };
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        console.Profile.Width = 320;
        int exit;
        using (AgentBus.Cli.Commands.Cli.CaptureOutput(console))
            exit = await root.Parse(args).InvokeAsync();
        return (exit, writer.ToString());
    }

    public override async Task DisposeAsync()
    {
        if (_superuser is not null)
            await _superuser.DisposeAsync();
        if (_app is not null)
            await _app.DisposeAsync();
        var admin = Servers.PostgresAdmin;
        await base.DisposeAsync();
        Directory.Delete(_loginSecrets, recursive: true);
        if (!_rolesCreated)
            return;
        await using var connection = new NpgsqlConnection(admin);
        await connection.OpenAsync();
        foreach (var role in _logins.Select(l => l.Name).Append(RawRole).Append(OwnerRole))
        {
            await using var command = new NpgsqlCommand($"DROP ROLE IF EXISTS \"{role}\"", connection);
            await command.ExecuteNonQueryAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class AuditCollection : ICollectionFixture<AuditFixture>
{
    public const string Name = "audit";
}
