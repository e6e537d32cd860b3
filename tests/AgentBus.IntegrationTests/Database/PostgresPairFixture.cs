using AgentBus.Client;
using AgentBus.IntegrationTests.Infrastructure;
using AgentBus.Operations.Broker;
using AgentBus.ServiceDefaults.Database;
using AgentBus.Testbed;
using Dapper;
using Npgsql;

namespace AgentBus.IntegrationTests.Database;

/// <summary>
/// A PostgreSQL primary and streaming standby of this test's own (ops/lib/pg-pair.sh, ports 5462/5463,
/// /tmp/agentbus-pgpair), migrated as the pipeline migrates, and the projections service as a real
/// process reaching it only through the multi-host string the Kubernetes manifests use. RabbitMQ is the
/// shared server, on a vhost of this fixture's.
/// </summary>
public sealed class PostgresPairFixture : IAsyncLifetime
{
    public const string Hosts = "127.0.0.1:5462,127.0.0.1:5463";
    public const string Agent = "support-bot";
    public const string Tool = "ticketing";

    readonly string _suffix = Guid.NewGuid().ToString("N")[..8];
    readonly string _workDirectory = Directory.CreateTempSubdirectory("agentbus-pgpair-test-").FullName;
    NpgsqlDataSource? _database;

    public static string Script => Path.Combine(RepoRoot(), "ops", "lib", "pg-pair.sh");
    public static string StateDirectory => "/tmp/agentbus-pgpair";

    public TestServers Servers { get; private set; } = null!;
    public RabbitMqManagementClient Management { get; private set; } = null!;
    public SecretStore Secrets { get; private set; } = null!;
    public string VirtualHost => $"agentbus-test-{_suffix}";
    public string DatabaseName => $"agentbus_failover_{_suffix}";

    /// <summary>What the service is given (Database:ConnectionString), its password in Database:PasswordFile.</summary>
    public string ServiceConnectionString => $"Host={Hosts};Target Session Attributes=read-write;Username=postgres;Database={DatabaseName}";

    public string PasswordFile => Path.Combine(StateDirectory, "secrets", "postgres.password");
    public ServiceProcess Projections { get; private set; } = null!;

    /// <summary>The test's own reads, through the same multi-host string.</summary>
    public NpgsqlDataSource Database => _database!;

    public async Task InitializeAsync()
    {
        if (PostgresPairFactAttribute.Unavailable is not null)
            return;
        await PairAsync("up");
        var admin = ReadEnv(Path.Combine(StateDirectory, "env"))["AGENTBUS_POSTGRES_ADMIN"];
        Servers = await TestServers.StartAsync();
        Secrets = new SecretStore(Environment.GetEnvironmentVariable("AGENTBUS_SECRETS_DIR") is { Length: > 0 } shared
            ? shared
            : Path.Combine(_workDirectory, "secrets"));
        Management = new RabbitMqManagementClient(Servers.ManagementUrl, Servers.AdminUser, Servers.AdminPassword);

        await using (var connection = new NpgsqlConnection(admin))
            await connection.ExecuteAsync($"CREATE DATABASE \"{DatabaseName}\"");
        var owner = new NpgsqlConnectionStringBuilder(admin) { Database = DatabaseName }.ConnectionString;
        await DatabaseMigrator.ApplyAsync(owner, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, AgentBus.Cli.Database.AgentBusSchema.All);
        // Tuned as the services are: with Npgsql's default, the test's own reads would wait out a 10 s host recheck.
        _database = NpgsqlDataSource.Create(DatabaseExtensions.WithServiceTuning(owner));

        await new BrokerProvisioner(Management, Secrets, Servers.AdminUser).ApplyAsync(VirtualHost, [Agent], [Tool], CancellationToken.None);
        const string user = "agentbus-projections";
        Projections = await ChildServices.StartAsync("AgentBus.Projections", "agentbus-projections", new Dictionary<string, string?>
        {
            ["RabbitMq__Host"] = Servers.RabbitHost,
            ["RabbitMq__Port"] = Servers.RabbitPort.ToString(),
            ["RabbitMq__VirtualHost"] = VirtualHost,
            ["RabbitMq__Username"] = user,
            ["RabbitMq__PasswordFile"] = Secrets.PathFor("rabbitmq", user),
            ["Database__ConnectionString"] = ServiceConnectionString,
            ["Database__PasswordFile"] = PasswordFile,
            ["Logging__LogLevel__Default"] = "Warning",
        });
    }

    /// <summary>Runs ops/lib/pg-pair.sh with these arguments; returns how long it took.</summary>
    public async Task<TimeSpan> PairAsync(params string[] arguments)
    {
        var command = string.Join(' ', arguments);
        var started = System.Diagnostics.Stopwatch.StartNew();
        var start = ChildProcess.StartInfo("bash", [Script, .. arguments]);
        start.Environment.Remove("AGENTBUS_PGPAIR_DIR");
        var result = await ChildProcess.RunAsync(start, null, TimeSpan.FromSeconds(120), $"pg-pair.sh {command}");
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"pg-pair.sh {command} exited with {result.ExitCode}:{Environment.NewLine}{result.Stderr}{result.Stdout}");
        return started.Elapsed;
    }

    public Task<AgentClient> ConnectAgentAsync() =>
        AgentClient.ConnectAsync(new AgentClientOptions
        {
            Host = Servers.RabbitHost,
            Port = Servers.RabbitPort,
            VirtualHost = VirtualHost,
            AgentId = Agent,
            Password = Secrets.GetOrCreate("rabbitmq", Agent),
        });

    public async Task DisposeAsync()
    {
        if (PostgresPairFactAttribute.Unavailable is not null)
            return;
        if (Projections is not null)
            await Projections.DisposeAsync();
        if (_database is not null)
            await _database.DisposeAsync();
        if (Management is not null)
        {
            await Management.DeleteVirtualHostAsync(VirtualHost, CancellationToken.None);
            Management.Dispose();
        }
        if (Servers is not null)
            await Servers.DisposeAsync();
        await PairAsync("down", "--purge");
        try
        {
            Directory.Delete(_workDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder is harmless.
        }
    }

    static Dictionary<string, string> ReadEnv(string file)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(file))
        {
            if (!line.StartsWith("export ", StringComparison.Ordinal) || line.IndexOf('=') is var eq && eq < 0)
                continue;
            values[line[7..eq]] = line[(eq + 1)..].Trim('\'');
        }
        return values;
    }

    internal static string RepoRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "AgentBus.sln")))
                return directory.FullName;
        throw new InvalidOperationException($"AgentBus.sln not found above {AppContext.BaseDirectory}.");
    }
}

/// <summary>
/// Runs where ops/lib/pg-pair.sh can start its servers: as root (they run as user postgres), with
/// PostgreSQL 15 installed or apt-get to install it. Anywhere else the test is skipped, saying why.
/// </summary>
public sealed class PostgresPairFactAttribute : FactAttribute
{
    public static readonly string? Unavailable = Probe();

    public PostgresPairFactAttribute()
    {
        if (Unavailable is not null)
            Skip = Unavailable;
    }

    static string? Probe()
    {
        if (!OperatingSystem.IsLinux())
            return "ops/lib/pg-pair.sh runs PostgreSQL natively on Linux only.";
        if (!Environment.IsPrivilegedProcess)
            return "ops/lib/pg-pair.sh needs root (it runs PostgreSQL as user postgres with runuser); run the tests as root, as CI does.";
        var binaries = Environment.GetEnvironmentVariable("AGENTBUS_PG_BIN") is { Length: > 0 } bin ? bin : "/usr/lib/postgresql/15/bin";
        if (!File.Exists(Path.Combine(binaries, "pg_ctl")) && !File.Exists("/usr/bin/apt-get"))
            return $"No PostgreSQL 15 in {binaries} and no apt-get to install it.";
        return null;
    }
}

[CollectionDefinition(Name)]
public sealed class PostgresFailoverCollection : ICollectionFixture<PostgresPairFixture>
{
    public const string Name = "postgres-failover";
}
