using System.Text.Json;
using AgentBus.Operations.Broker;
using AgentBus.Cli.Commands;
using AgentBus.ServiceDefaults.Database;
using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace AgentBus.Testbed;

/// <summary>One tool the run's executors serve: its name and the "Tool" section of its tools/NAME.json.</summary>
public sealed record ToolSpec(string Name, object Settings);

/// <summary>What a run needs provisioned: agents (each a broker user), tools and the policy in force.</summary>
public sealed record ScratchSpec(string Kind, IReadOnlyList<string> Agents, IReadOnlyList<ToolSpec> Tools, string PolicyYaml);

/// <summary>
/// A private world on the shared servers for one run, provisioned with the code production and the
/// integration fixture use: a vhost (BrokerProvisioner: users, permissions, every exchange, queue and
/// binding), a database (the cluster roles `agentbus db roles` creates, then DatabaseMigrator), the
/// policy's signing key pair, the policy file and the tool files. Disposing it drops the vhost, the
/// database and the work folder.
/// </summary>
public sealed class Scratch : IAsyncDisposable
{
    Scratch(ServerEnvironment servers, ScratchSpec spec, string id, string work)
    {
        Servers = servers;
        Spec = spec;
        Id = id;
        WorkDirectory = work;
        Secrets = new SecretStore(servers.SecretsDirectory);
        Management = new RabbitMqManagementClient(servers.ManagementUrl, servers.AdminUser, servers.AdminPassword);
    }

    public ServerEnvironment Servers { get; }
    public ScratchSpec Spec { get; }
    public string Id { get; }
    public string WorkDirectory { get; }
    public SecretStore Secrets { get; }
    public RabbitMqManagementClient Management { get; }
    public string VirtualHost => $"agentbus-{Spec.Kind}-{Id}";
    public string DatabaseName => $"agentbus_{Spec.Kind}_{Id}";

    /// <summary>The scratch database with the administrator's login, for the run's own checks.</summary>
    public string ConnectionString { get; private set; } = "";

    /// <summary>The same without the password, which services read from <see cref="DatabasePasswordFile"/>.</summary>
    public string ServiceConnectionString { get; private set; } = "";

    public string DatabasePasswordFile => Path.Combine(WorkDirectory, "database.password");
    public string PolicyFile => Path.Combine(WorkDirectory, "policy.yaml");
    public string ToolsDirectory => Path.Combine(WorkDirectory, "tools");
    public string KeysDirectory => Path.Combine(WorkDirectory, "keys");
    public string LogsDirectory => Path.Combine(WorkDirectory, "logs");
    public string SigningKeyFile => Path.Combine(KeysDirectory, KeyCommands.DefaultName + ".key.pem");
    public string ToolSecretsDirectory => Path.Combine(Secrets.Directory, "tools");

    /// <summary>Leave the vhost, database and logs in place after the run (to look into a failure).</summary>
    public bool Keep { get; set; }

    bool _vhostCreated;
    bool _databaseCreated;
    NpgsqlDataSource? _dataSource;

    public NpgsqlDataSource Database => _dataSource ??= NpgsqlDataSource.Create(ConnectionString);

    public static async Task<Scratch> CreateAsync(ServerEnvironment servers, ScratchSpec spec, CancellationToken ct)
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        var work = Directory.CreateTempSubdirectory($"agentbus-{spec.Kind}-").FullName;
        var scratch = new Scratch(servers, spec, id, work);
        try
        {
            await scratch.ProvisionAsync(ct);
            return scratch;
        }
        catch
        {
            await scratch.DisposeAsync();
            throw;
        }
    }

    async Task ProvisionAsync(CancellationToken ct)
    {
        Directory.CreateDirectory(LogsDirectory);

        await using (var admin = new NpgsqlConnection(Servers.PostgresAdmin))
            await admin.ExecuteAsync(new CommandDefinition($"CREATE DATABASE \"{DatabaseName}\"", cancellationToken: ct));
        _databaseCreated = true;
        var builder = new NpgsqlConnectionStringBuilder(Servers.PostgresAdmin) { Database = DatabaseName };
        ConnectionString = builder.ConnectionString;
        await File.WriteAllTextAsync(DatabasePasswordFile, builder.Password ?? "", ct);
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(DatabasePasswordFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        builder.Password = null;
        ServiceConnectionString = builder.ConnectionString;
        await DatabaseRoles.EnsureAsync(Servers.PostgresAdmin, ct);
        await DatabaseMigrator.ApplyAsync(ConnectionString, NullLogger.Instance, AgentBus.Cli.Database.AgentBusSchema.All, ct);

        _vhostCreated = true;
        var tools = Spec.Tools.Select(t => t.Name).ToList();
        await new BrokerProvisioner(Management, Secrets, Servers.AdminUser).ApplyAsync(VirtualHost, Spec.Agents, tools, ct);
        // The sandbox system of record needs both of its keys, whichever tools the run uses.
        foreach (var tool in tools.Concat(["ticketing", "payments"]).Distinct())
            Secrets.GetOrCreate("tools", tool);

        KeyCommands.Generate(KeysDirectory, KeyCommands.DefaultName, force: false);
        await File.WriteAllTextAsync(PolicyFile, Spec.PolicyYaml, ct);
        Directory.CreateDirectory(ToolsDirectory);
        foreach (var tool in Spec.Tools)
            await File.WriteAllTextAsync(Path.Combine(ToolsDirectory, tool.Name + ".json"),
                JsonSerializer.Serialize(new { Tool = tool.Settings }), ct);
    }

    public string BrokerPasswordFile(string user) => Secrets.PathFor("rabbitmq", user);

    public string BrokerPassword(string user) => Secrets.GetOrCreate("rabbitmq", user);

    /// <summary>The environment every service process gets: broker, vhost, user, database (password from a file).</summary>
    public Dictionary<string, string> ServiceEnvironment(string brokerUser) => new()
    {
        ["RabbitMq__Endpoints"] = Servers.IsCluster ? Servers.RabbitEndpoints : "",
        ["RabbitMq__Host"] = Servers.RabbitHost,
        ["RabbitMq__Port"] = Servers.RabbitPort.ToString(),
        ["RabbitMq__VirtualHost"] = VirtualHost,
        ["RabbitMq__Username"] = brokerUser,
        ["RabbitMq__PasswordFile"] = BrokerPasswordFile(brokerUser),
        ["Database__ConnectionString"] = ServiceConnectionString,
        ["Database__PasswordFile"] = DatabasePasswordFile,
        ["Database__ApplyMigrations"] = "false",
        ["MASSTRANSIT_USAGE_TELEMETRY"] = "false",
        ["DOTNET_NOLOGO"] = "1",
    };

    public async ValueTask DisposeAsync()
    {
        if (_dataSource is not null)
            await _dataSource.DisposeAsync();
        if (Keep)
        {
            Console.Error.WriteLine($"Kept: vhost {VirtualHost}, database {DatabaseName}, work folder {WorkDirectory}");
            Management.Dispose();
            return;
        }
        try
        {
            if (_vhostCreated)
                await Management.DeleteVirtualHostAsync(VirtualHost, CancellationToken.None);
        }
        catch (Exception ex) when (ex is HttpRequestException or BrokerProvisioningException or TaskCanceledException)
        {
            Console.Error.WriteLine($"Could not delete vhost {VirtualHost}: {ex.Message}");
        }
        Management.Dispose();
        if (_databaseCreated)
        {
            NpgsqlConnection.ClearAllPools();
            try
            {
                await using var admin = new NpgsqlConnection(Servers.PostgresAdmin);
                await admin.ExecuteAsync($"DROP DATABASE IF EXISTS \"{DatabaseName}\" WITH (FORCE)");
            }
            catch (NpgsqlException ex)
            {
                Console.Error.WriteLine($"Could not drop database {DatabaseName}: {ex.Message}");
            }
        }
        try
        {
            Directory.Delete(WorkDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder is harmless.
        }
    }
}
