using System.Net.Http.Json;
using System.Text.Json;
using AgentBus.Approvals;
using AgentBus.Operations.Broker;
using AgentBus.Client;
using AgentBus.Executor;
using AgentBus.OperatorConsole;
using AgentBus.Policy;
using AgentBus.Projections;
using AgentBus.SandboxApi;
using AgentBus.ServiceDefaults;
using Dapper;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace AgentBus.IntegrationTests.Infrastructure;

/// <summary>
/// The whole pipeline on real servers: its own RabbitMQ vhost and PostgreSQL database (so test
/// runs never see each other's data), broker users provisioned exactly as in production, the
/// sandbox system of record, and the policy, projections and two executor hosts in-process.
/// A feature that needs another policy or extra hosts derives its own fixture (and collection)
/// and overrides <see cref="Policy"/>, <see cref="Agents"/> or <see cref="ConfigureHost"/>.
/// </summary>
public class PipelineFixture : IAsyncLifetime
{
    public const string DefaultPolicyYaml = """
        agents:
          - id: support-bot
            team: support
          - id: intern-bot
            team: support
          - id: python-agent
            team: platform
        tools:
          # The audit's redaction tests send a customer's phone and a card through it.
          - name: ticketing
            accepts: [pii.phone, pii.card]
          - name: payments
        grants:
          - id: support-bot-tickets
            agent: support-bot
            tool: ticketing
          - id: support-bot-refunds
            agent: support-bot
            tool: payments
          - id: intern-bot-tickets
            agent: intern-bot
            tool: ticketing
          - id: python-agent-tickets
            agent: python-agent
            tool: ticketing
        """;

    public static readonly string[] Tools = ["ticketing", "payments"];

    /// <summary>The policy file the policy host starts with (tests may rewrite <see cref="PolicyFile"/>).</summary>
    protected virtual string Policy => DefaultPolicyYaml;

    /// <summary>Agents that get broker users; every agent the policy names should be here.</summary>
    protected virtual IReadOnlyList<string> Agents => ["support-bot", "intern-bot", "python-agent"];

    /// <summary>Tools whose executor runs in-process from the start (a fixture may run some as child processes instead).</summary>
    protected virtual IReadOnlyList<string> InProcessExecutors => Tools;

    /// <summary>Called for every in-process host before it is built: extra settings, services, exporters.</summary>
    protected virtual void ConfigureHost(string brokerUser, WebApplicationBuilder builder)
    {
    }

    /// <summary>
    /// Runs once the (empty) database exists, before any host starts: roles, logins, migrations ahead of
    /// the hosts. By default the whole schema, as `agentbus db migrate` applies it: each host migrates only
    /// what it owns, and the operators' tables (the dead-letter archive) belong to no host.
    /// </summary>
    protected virtual Task PrepareDatabaseAsync() =>
        AgentBus.ServiceDefaults.Database.DatabaseMigrator.ApplyAsync(ConnectionString,
            Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, AgentBus.Cli.Database.AgentBusSchema.All);

    readonly List<WebApplication> _hosts = [];
    WebApplication? _console;
    readonly string _suffix = Guid.NewGuid().ToString("N")[..8];
    readonly string _workDirectory = Directory.CreateTempSubdirectory("agentbus-test-").FullName;
    WebApplication? _sandbox;

    public TestServers Servers { get; private set; } = null!;
    public string VirtualHost => $"agentbus-test-{_suffix}";
    public string DatabaseName => $"agentbus_test_{_suffix}";
    public string ConnectionString { get; private set; } = "";
    public SecretStore Secrets { get; private set; } = null!;
    public string PolicyFile => Path.Combine(_workDirectory, "policy.yaml");
    public string ToolsDirectory => Path.Combine(_workDirectory, "tools");
    public string ToolSecretsDirectory => Path.Combine(Secrets.Directory, "tools");
    /// <summary>The policy service's signing key pair (private key for the policy host, *.pub.pem trusted by executors).</summary>
    public string SigningKeysDirectory => Path.Combine(_workDirectory, "keys");
    public string SigningKeyFile => Path.Combine(SigningKeysDirectory, AgentBus.Cli.Commands.KeyCommands.DefaultName + ".key.pem");
    public Uri SandboxUrl { get; private set; } = null!;
    public RabbitMqManagementClient Management { get; private set; } = null!;
    public CallLog SandboxCalls => _sandbox!.Services.GetRequiredService<CallLog>();

    /// <summary>The sandbox's own state (orders, refunds, tickets): what the system of record says, beside its call log.</summary>
    public AgentBus.SandboxApi.Shop.ShopStore Shop => _sandbox!.Services.GetRequiredService<AgentBus.SandboxApi.Shop.ShopStore>();

    /// <summary>What the shop says has been refunded on an order so far.</summary>
    public decimal RefundedUsd(string orderId) => ((AgentBus.SandboxApi.Shop.Order)Shop.GetOrder(orderId).Body).RefundedUsd;

    /// <summary>The sandbox's settings, read per request: a test may slow every call (LatencyMs) and must set it back.</summary>
    public SandboxOptions SandboxSettings => _sandbox!.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<SandboxOptions>>().Value;

    public virtual async Task InitializeAsync()
    {
        Servers = await TestServers.StartAsync();
        Secrets = new SecretStore(Environment.GetEnvironmentVariable("AGENTBUS_SECRETS_DIR") is { Length: > 0 } shared
            ? shared
            : Path.Combine(_workDirectory, "secrets"));
        Management = new RabbitMqManagementClient(Servers.ManagementUrl, Servers.AdminUser, Servers.AdminPassword);

        await CreateDatabaseAsync();
        await PrepareDatabaseAsync();
        await File.WriteAllTextAsync(PolicyFile, Policy);
        await new BrokerProvisioner(Management, Secrets, Servers.AdminUser)
            .ApplyAsync(VirtualHost, Agents, Tools, CancellationToken.None);

        foreach (var tool in Tools)
            Secrets.GetOrCreate("tools", tool);
        await StartSandboxAsync();
        WriteToolConfigurations();
        AgentBus.Cli.Commands.KeyCommands.Generate(SigningKeysDirectory, AgentBus.Cli.Commands.KeyCommands.DefaultName, force: false);

        await StartPolicyAsync();
        await StartHostAsync("agentbus-projections", [], b => b.AddServiceDefaults("agentbus-projections", 0).AddProjections(), new());
        foreach (var tool in InProcessExecutors)
            await StartExecutorAsync(tool);
    }

    /// <summary>A policy service host (another instance when one runs already), configured as in production.</summary>
    public Task<WebApplication> StartPolicyAsync() =>
        StartHostAsync("agentbus-policy", [], b => b.AddServiceDefaults("agentbus-policy", 0).AddPolicy(),
            new() { ["Policy:File"] = PolicyFile, ["Policy:Signing:PrivateKeyFile"] = SigningKeyFile });

    public async Task<WebApplication> StartExecutorAsync(string tool, string? brokerUser = null)
    {
        var app = await StartHostAsync(brokerUser ?? BrokerTopology.ExecutorUser(tool),
            ["--tool", tool, "--tools-directory", ToolsDirectory, "--secrets-directory", ToolSecretsDirectory],
            b =>
            {
                b.AddExecutorConfiguration(["--tool", tool, "--tools-directory", ToolsDirectory, "--secrets-directory", ToolSecretsDirectory]);
                b.AddServiceDefaults($"agentbus-executor-{tool}", 0).AddExecutor();
            }, new() { ["Executor:PolicyKeys"] = SigningKeysDirectory });
        ExecutorHosts[tool] = app;
        return app;
    }

    /// <summary>
    /// The approvals service beside the pipeline (sweeping every 250 ms), with an approver store on the same
    /// database; fixtures whose policy asks for approvals start it once. Approvers sign in with bearer tokens.
    /// </summary>
    public async Task<(Uri Url, AgentBus.Approvals.Approvers.ApproverStore Approvers)> StartApprovalsAsync()
    {
        var approvals = await StartHostAsync("agentbus-approvals", [], b => b.AddServiceDefaults("agentbus-approvals", 0).AddApprovals(),
            new() { ["Approvals:SecureCookies"] = "false", ["Approvals:PolicyFile"] = PolicyFile, ["Approvals:SweepInterval"] = "00:00:00.250" },
            app => app.MapApprovals());
        var url = new Uri(approvals.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return (url, new AgentBus.Approvals.Approvers.ApproverStore(NpgsqlDataSource.Create(ConnectionString)));
    }

    /// <summary>
    /// The operator console beside the pipeline, started on first use as ops/run.sh runs it (gates recomputed
    /// every 5 s), with the operator broker user's password from the fixture's secrets.
    /// </summary>
    public async Task<Uri> ConsoleUrlAsync(IReadOnlyDictionary<string, string?>? extra = null)
    {
        _console ??= await StartConsoleAsync(extra);
        return UrlOf(_console);
    }

    /// <summary>Another console host with these settings (e.g. OIDC), stopped with the fixture or by <see cref="StopHostAsync"/>.</summary>
    public Task<WebApplication> StartConsoleAsync(IReadOnlyDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Console:PolicyFile"] = PolicyFile,
            ["Console:SecretsDirectory"] = Secrets.Directory,
            ["Console:SecureCookies"] = "false",
            ["Console:ManagementUrl"] = Servers.ManagementUrl.ToString(),
            ["Console:GatesRefresh"] = "00:00:05",
            ["Console:GatesMaxAge"] = "00:00:05",
            ["Console:SignInAttemptsPerMinute"] = "1000",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
            settings[key] = value;
        return StartHostAsync(BrokerTopology.OperatorUser, [], b => b.AddServiceDefaults("agentbus-console", 0).AddOperatorConsole(),
            settings, app => app.MapOperatorConsole());
    }

    public static Uri UrlOf(WebApplication host) =>
        new(host.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    /// <summary>An HTTP client of the approvals service, signed in as the approver whose bearer token this is.</summary>
    public static HttpClient ApprovalsHttp(Uri approvalsUrl, string token)
    {
        var http = new HttpClient { BaseAddress = approvalsUrl, Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    /// <summary>The executor host last started for each tool, so a test can stop one and let commands queue.</summary>
    public Dictionary<string, WebApplication> ExecutorHosts { get; } = [];

    public async Task<WebApplication> StartHostAsync(string brokerUser, string[] args, Action<WebApplicationBuilder> configure,
        Dictionary<string, string?> settings, Action<WebApplication>? map = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            EnvironmentName = "Test",
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(settings)
        {
            ["Urls"] = "http://127.0.0.1:0",
            ["RabbitMq:Host"] = Servers.RabbitHost,
            ["RabbitMq:Port"] = Servers.RabbitPort.ToString(),
            ["RabbitMq:VirtualHost"] = VirtualHost,
            ["RabbitMq:Username"] = brokerUser,
            ["RabbitMq:PasswordFile"] = Secrets.PathFor("rabbitmq", brokerUser),
            ["Database:ConnectionString"] = ConnectionString,
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:AgentBus"] = "Warning",
        });
        configure(builder);
        ConfigureHost(brokerUser, builder);
        var app = builder.Build();
        app.MapServiceDefaults();
        map?.Invoke(app);
        await app.StartAsync();
        _hosts.Add(app);
        return app;
    }

    public async Task StopHostAsync(WebApplication host)
    {
        _hosts.Remove(host);
        await host.StopAsync();
        await host.DisposeAsync();
    }

    public Task<AgentClient> ConnectAgentAsync(string agentId) =>
        AgentClient.ConnectAsync(new AgentClientOptions
        {
            Host = Servers.RabbitHost,
            Port = Servers.RabbitPort,
            VirtualHost = VirtualHost,
            AgentId = agentId,
            Password = Secrets.GetOrCreate("rabbitmq", agentId),
        });

    public RabbitMQ.Client.ConnectionFactory ConnectionFactoryFor(string user) => new()
    {
        HostName = Servers.RabbitHost,
        Port = Servers.RabbitPort,
        VirtualHost = VirtualHost,
        UserName = user,
        Password = Secrets.GetOrCreate("rabbitmq", user),
        AutomaticRecoveryEnabled = false,
    };

    /// <summary>Empties every queue, table and the sandbox's record, so each test starts from nothing.</summary>
    public async Task ResetAsync()
    {
        var queues = await Management.GetAsync($"queues/{Uri.EscapeDataString(VirtualHost)}?columns=name", CancellationToken.None);
        using var http = AdminHttp();
        foreach (var queue in queues.EnumerateArray())
        {
            var name = queue.GetProperty("name").GetString()!;
            using var response = await http.DeleteAsync($"api/queues/{Uri.EscapeDataString(VirtualHost)}/{Uri.EscapeDataString(name)}/contents");
        }

        await using var connection = new NpgsqlConnection(ConnectionString);
        var tables = (await connection.QueryAsync<string>(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schemaversions'")).ToList();
        var hadSuspensions = tables.Contains("policy_suspensions")
            && await connection.ExecuteScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM policy_suspensions)");
        // The audit log refuses TRUNCATE except through its documented break-glass path (docs/audit.md).
        // A writer still finishing the previous test can deadlock with it: PostgreSQL aborts one, so try again.
        for (var attempt = 1; tables.Count > 0; attempt++)
        {
            try
            {
                await connection.ExecuteAsync("SET agentbus.audit_break_glass = 'test reset'; " +
                    $"TRUNCATE {string.Join(", ", tables.Select(t => '"' + t + '"'))} RESTART IDENTITY CASCADE");
                break;
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.DeadlockDetected && attempt < 5)
            {
                await Task.Delay(100 * attempt);
            }
        }
        SandboxCalls.Clear();
        // Ids go on: a command still in flight from the previous test (a consumer holds it, so no purge
        // reaches it) then finds nothing, instead of changing this test's refund of the same number.
        Shop.Reset(restartIds: false);
        // The policy service denies from its cached kill switch until its next re-read (250 ms by default);
        // without this wait a test after one that suspended an agent is refused for a suspension it never made.
        if (hadSuspensions)
            await Task.Delay(TimeSpan.FromMilliseconds(600));
    }

    public HttpClient AdminHttp()
    {
        var http = new HttpClient { BaseAddress = Servers.ManagementUrl };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{Servers.AdminUser}:{Servers.AdminPassword}")));
        return http;
    }

    /// <summary>
    /// The decision the audit recorded for an action: for one allowed at once the agent is sent no
    /// decision (its outcome answers), so which rule and policy version allowed it is read here.
    /// </summary>
    public async Task<RecordedDecision> RecordedDecisionAsync(string actionId)
    {
        var rows = await Eventually.Get(() => QueryAsync<RecordedDecision>(
                "SELECT outcome AS Decision, reason_code AS ReasonCode, rule_id AS RuleId, policy_version AS PolicyVersion FROM audit_events " +
                "WHERE action_id = @actionId AND event_type = 'ActionDecided' ORDER BY seq", new { actionId }),
            found => found.Count > 0, $"the audit's decision on action {actionId}");
        return rows[^1];
    }

    public async Task<long> CountAsync(string sql, object? parameters = null)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        return await connection.ExecuteScalarAsync<long>(sql, parameters);
    }

    public async Task<IReadOnlyList<T>> QueryAsync<T>(string sql, object? parameters = null)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        return (await connection.QueryAsync<T>(sql, parameters)).ToList();
    }

    /// <summary>Messages in a queue; a queue that does not exist (an error queue nothing faulted into yet) holds none.</summary>
    public async Task<long> QueueDepthAsync(string queue)
    {
        using var http = AdminHttp();
        using var response = await http.GetAsync($"api/queues/{Uri.EscapeDataString(VirtualHost)}/{Uri.EscapeDataString(queue)}");
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
            return 0;
        response.EnsureSuccessStatusCode();
        var info = await response.Content.ReadFromJsonAsync<JsonElement>();
        return info.TryGetProperty("messages", out var messages) ? messages.GetInt64() : 0;
    }

    async Task CreateDatabaseAsync()
    {
        await using (var admin = new NpgsqlConnection(Servers.PostgresAdmin))
            await admin.ExecuteAsync($"CREATE DATABASE \"{DatabaseName}\"");
        ConnectionString = new NpgsqlConnectionStringBuilder(Servers.PostgresAdmin) { Database = DatabaseName, Pooling = true }.ConnectionString;
    }

    async Task StartSandboxAsync()
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Test", ContentRootPath = AppContext.BaseDirectory });
        builder.AddSandbox();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Urls"] = "http://127.0.0.1:0",
            ["Sandbox:TicketingKey"] = Secrets.GetOrCreate("tools", "ticketing"),
            ["Sandbox:PaymentsKey"] = Secrets.GetOrCreate("tools", "payments"),
            ["Logging:LogLevel:Default"] = "Warning",
        });
        _sandbox = builder.Build();
        _sandbox.MapSandbox();
        await _sandbox.StartAsync();
        var address = _sandbox.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        SandboxUrl = new Uri(address);
    }

    protected virtual void WriteToolConfigurations()
    {
        Directory.CreateDirectory(ToolsDirectory);
        var host = $"127.0.0.1:{SandboxUrl.Port}";
        File.WriteAllText(Path.Combine(ToolsDirectory, "ticketing.json"), JsonSerializer.Serialize(new
        {
            Tool = new { Kind = "http", UnitCostUsd = 0.002, Http = new { AllowedHosts = new[] { host }, SecretHeader = "Authorization", SecretPrefix = "Bearer " } },
        }));
        File.WriteAllText(Path.Combine(ToolsDirectory, "payments.json"), JsonSerializer.Serialize(new
        {
            Tool = new { Kind = "http", UnitCostUsd = 0.01, Http = new { AllowedHosts = new[] { host }, SecretHeader = "X-Api-Key" } },
        }));
    }

    public virtual async Task DisposeAsync()
    {
        foreach (var host in Enumerable.Reverse(_hosts).ToList())
        {
            await host.StopAsync();
            await host.DisposeAsync();
        }
        if (_sandbox is not null)
            await _sandbox.DisposeAsync();

        await Management.DeleteVirtualHostAsync(VirtualHost, CancellationToken.None);
        NpgsqlConnection.ClearAllPools();
        await using (var admin = new NpgsqlConnection(Servers.PostgresAdmin))
            await admin.ExecuteAsync($"DROP DATABASE IF EXISTS \"{DatabaseName}\" WITH (FORCE)");
        Management.Dispose();
        await Servers.DisposeAsync();
        try
        {
            Directory.Delete(_workDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder is harmless.
        }
    }
}

[CollectionDefinition(Name)]
public sealed class PipelineCollection : ICollectionFixture<PipelineFixture>
{
    public const string Name = "pipeline";
}

public sealed record RecordedDecision(string Decision, string? ReasonCode, string? RuleId, string? PolicyVersion);
