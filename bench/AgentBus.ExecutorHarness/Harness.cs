using System.Diagnostics;
using System.Text.Json;
using AgentBus.Operations.Broker;
using AgentBus.Contracts;
using AgentBus.SandboxApi;
using AgentBus.ServiceDefaults.Database;
using AgentBus.ServiceDefaults.Json;
using AgentBus.ServiceDefaults.Messaging;
using AgentBus.ServiceDefaults.Security;
using Dapper;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace AgentBus.ExecutorHarness;

sealed record RunResult(int Copies, int Actions, double Seconds, double ActionsPerSecond, double MeanCallMs, int DistinctExecutors);

/// <summary>
/// One run per copy count: N real agentbus-executor processes for one tool on a private vhost and
/// database, a burst of signed ExecuteTool commands published as the policy service would, and the
/// rate at which the copies finish them (first claim to last outcome, on the database's clock).
/// </summary>
sealed class Harness(HarnessOptions options) : IAsyncDisposable
{
    const string Tool = "ticketing";
    const string Agent = "bench-agent";

    readonly string _id = Guid.NewGuid().ToString("N")[..8];
    readonly string _work = Directory.CreateTempSubdirectory("agentbus-harness-").FullName;
    readonly List<Process> _executors = [];
    RabbitMqManagementClient? _management;
    WebApplication? _sandbox;
    IHost? _publisher;
    AuthorizationSigner? _signer;
    string _connectionString = "";
    bool _vhostCreated;
    bool _databaseCreated;

    string VirtualHost => $"agentbus-bench-{_id}";
    string DatabaseName => $"agentbus_bench_{_id}";
    string ToolsDirectory => Path.Combine(_work, "tools");
    string KeysDirectory => Path.Combine(_work, "keys");

    public async Task<IReadOnlyList<RunResult>> RunAsync(CancellationToken ct)
    {
        var executorDll = ExecutorDll();
        Console.WriteLine($"Setting up vhost {VirtualHost} and database {DatabaseName} ...");
        await SetUpAsync(ct);

        var results = new List<RunResult>();
        foreach (var copies in options.Copies)
        {
            await StartExecutorsAsync(executorDll, copies, ct);
            await RunBatchAsync($"warmup-{copies}", 5 * copies, ct);
            var actions = options.ActionsPerCopy * copies;
            var result = await RunBatchAsync($"measure-{copies}", actions, ct) with { Copies = copies };
            results.Add(result);
            Console.WriteLine($"  {copies} cop{(copies == 1 ? "y " : "ies")}: {result.Actions} actions in {result.Seconds:0.00} s = {result.ActionsPerSecond:0.0} actions/s " +
                              $"(mean call {result.MeanCallMs:0.0} ms, {result.DistinctExecutors} copies took work)");
            await StopExecutorsAsync();
        }
        return results;
    }

    public void Report(IReadOnlyList<RunResult> results)
    {
        var baseline = results.FirstOrDefault(r => r.Copies == 1) ?? results[0];
        Console.WriteLine();
        Console.WriteLine($"Executor throughput, tool call {options.LatencyMs} ms, {options.Concurrency} call(s) at once per copy, prefetch {options.Prefetch}");
        Console.WriteLine($"{Environment.ProcessorCount} cores, {RuntimeInformationText()}");
        Console.WriteLine("| copies | actions | seconds | actions/s | vs 1 copy |");
        Console.WriteLine("|---:|---:|---:|---:|---:|");
        foreach (var r in results)
            Console.WriteLine($"| {r.Copies} | {r.Actions} | {r.Seconds:0.00} | {r.ActionsPerSecond:0.0} | {r.ActionsPerSecond / baseline.ActionsPerSecond:0.00}x |");
        var ideal = 1000.0 / Math.Max(1, options.LatencyMs) * options.Concurrency;
        Console.WriteLine($"(ideal for one copy: {ideal:0.0} actions/s, bounded by the {options.LatencyMs} ms call)");
    }

    static string RuntimeInformationText() =>
        $"{System.Runtime.InteropServices.RuntimeInformation.OSDescription.Trim()}, .NET {Environment.Version}, " +
        $"{(typeof(Harness).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyConfigurationAttribute), false).FirstOrDefault() as System.Reflection.AssemblyConfigurationAttribute)?.Configuration ?? "?"} build";

    static string ExecutorDll()
    {
        var bin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var dll = Path.Combine(bin.Parent!.Parent!.FullName, "AgentBus.Executor", bin.Name, "agentbus-executor.dll");
        return File.Exists(dll) ? dll : throw new InvalidOperationException($"Build the solution first: {dll} is missing.");
    }

    async Task SetUpAsync(CancellationToken ct)
    {
        await using (var admin = new NpgsqlConnection(options.PostgresAdmin))
            await admin.ExecuteAsync($"CREATE DATABASE \"{DatabaseName}\"");
        _databaseCreated = true;
        _connectionString = new NpgsqlConnectionStringBuilder(options.PostgresAdmin) { Database = DatabaseName }.ConnectionString;
        await DatabaseMigrator.ApplyAsync(_connectionString, NullLogger.Instance, AgentBus.Cli.Database.AgentBusSchema.All, ct);

        // Broker users are server-wide: reuse the shared secrets folder so nobody else's password changes.
        var secrets = new SecretStore(options.SecretsDirectory);
        _management = new RabbitMqManagementClient(options.ManagementUrl, options.AdminUser, options.AdminPassword);
        _vhostCreated = true;
        await new BrokerProvisioner(_management, secrets, options.AdminUser).ApplyAsync(VirtualHost, [Agent], [Tool], ct);
        var toolSecret = secrets.GetOrCreate("tools", Tool);

        Directory.CreateDirectory(KeysDirectory);
        using (var key = SigningKeys.Generate())
        {
            await File.WriteAllTextAsync(Path.Combine(KeysDirectory, "policy" + SigningKeys.PrivateKeySuffix), SigningKeys.PrivatePem(key), ct);
            await File.WriteAllTextAsync(Path.Combine(KeysDirectory, "policy" + SigningKeys.PublicKeySuffix), SigningKeys.PublicPem(key), ct);
        }
        _signer = AuthorizationSigner.FromFile(Path.Combine(KeysDirectory, "policy" + SigningKeys.PrivateKeySuffix));

        var sandbox = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        sandbox.AddSandbox();
        sandbox.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Urls"] = "http://127.0.0.1:0",
            ["Sandbox:TicketingKey"] = toolSecret,
            ["Sandbox:PaymentsKey"] = "unused-" + _id,
            ["Sandbox:LatencyMs"] = options.LatencyMs.ToString(),
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Warning",
        });
        _sandbox = sandbox.Build();
        _sandbox.MapSandbox();
        await _sandbox.StartAsync(ct);
        var sandboxUrl = new Uri(_sandbox.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

        Directory.CreateDirectory(ToolsDirectory);
        await File.WriteAllTextAsync(Path.Combine(ToolsDirectory, Tool + ".json"), JsonSerializer.Serialize(new
        {
            Tool = new
            {
                Kind = "http",
                ConcurrentMessageLimit = options.Concurrency,
                PrefetchCount = options.Prefetch,
                Idempotent = true,
                Http = new { AllowedHosts = new[] { $"127.0.0.1:{sandboxUrl.Port}" }, SecretHeader = "Authorization", SecretPrefix = "Bearer " },
            },
        }), ct);
        _ticketUrl = new Uri(sandboxUrl, "/ticketing/tickets").ToString();

        var publisher = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, ApplicationName = "agentbus-executor-harness" });
        publisher.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["RabbitMq:Host"] = options.RabbitHost,
            ["RabbitMq:Port"] = options.RabbitPort.ToString(),
            ["RabbitMq:VirtualHost"] = VirtualHost,
            ["RabbitMq:Username"] = BrokerTopology.PolicyUser,
            ["RabbitMq:PasswordFile"] = secrets.PathFor("rabbitmq", BrokerTopology.PolicyUser),
        });
        publisher.Logging.AddConsole().SetMinimumLevel(LogLevel.Warning);
        publisher.AddAgentBusMessaging(BrokerTopology.PolicyUser, _ => { });
        _publisher = publisher.Build();
        await _publisher.StartAsync(ct);
    }

    string _ticketUrl = "";

    const string Watchdog = """
        parent="$1"; shift
        dotnet "$@" & child=$!
        trap 'kill -TERM "$child" 2>/dev/null' TERM
        while kill -0 "$child" 2>/dev/null; do
          kill -0 "$parent" 2>/dev/null || { kill -9 "$child"; break; }
          sleep 0.5
        done
        wait "$child"
        """;

    async Task StartExecutorsAsync(string dll, int copies, CancellationToken ct)
    {
        var secrets = new SecretStore(options.SecretsDirectory);
        var user = BrokerTopology.ExecutorUser(Tool);
        for (var i = 0; i < copies; i++)
        {
            // The shell kills the executor if the harness itself dies without cleaning up.
            var start = new ProcessStartInfo("bash")
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = _work,
            };
            foreach (var argument in new[] { "-c", Watchdog, "agentbus-executor-watchdog", Environment.ProcessId.ToString(), dll })
                start.ArgumentList.Add(argument);
            foreach (var argument in new[] { "--tool", Tool, "--tools-directory", ToolsDirectory, "--secrets-directory", Path.Combine(options.SecretsDirectory, "tools") })
                start.ArgumentList.Add(argument);
            foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("AGENTBUS_TOOL_SECRET_", StringComparison.Ordinal)).ToList())
                start.Environment.Remove(key);
            start.Environment["Urls"] = "http://127.0.0.1:0";
            start.Environment["RabbitMq__Host"] = options.RabbitHost;
            start.Environment["RabbitMq__Port"] = options.RabbitPort.ToString();
            start.Environment["RabbitMq__VirtualHost"] = VirtualHost;
            start.Environment["RabbitMq__Username"] = user;
            start.Environment["RabbitMq__PasswordFile"] = secrets.PathFor("rabbitmq", user);
            start.Environment["Database__ConnectionString"] = _connectionString;
            start.Environment["Database__ApplyMigrations"] = "false";
            start.Environment["Executor__PolicyKeys"] = KeysDirectory;
            start.Environment["Executor__InstanceName"] = $"copy-{copies}-{i}";
            start.Environment["Logging__LogLevel__Default"] = "Warning";
            start.Environment["MASSTRANSIT_USAGE_TELEMETRY"] = "false";

            var process = new Process { StartInfo = start };
            var log = new StreamWriter(Path.Combine(_work, $"executor-{copies}-{i}.log")) { AutoFlush = true };
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            _executors.Add(process);
        }

        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (await ConsumersAsync(ct) != copies)
        {
            if (_executors.FirstOrDefault(p => p.HasExited) is { } dead)
                throw new InvalidOperationException($"An executor exited while starting (code {dead.ExitCode}); logs in {_work}.");
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{copies} executors did not start consuming within 90 s; logs in {_work}.");
            await Task.Delay(200, ct);
        }
    }

    async Task<int> ConsumersAsync(CancellationToken ct)
    {
        var queue = await _management!.GetAsync($"queues/{Uri.EscapeDataString(VirtualHost)}/{Uri.EscapeDataString(WireNames.ToolQueue(Tool))}", ct);
        return queue.TryGetProperty("consumers", out var consumers) ? consumers.GetInt32() : 0;
    }

    async Task<RunResult> RunBatchAsync(string runId, int actions, CancellationToken ct)
    {
        var bus = _publisher!.Services.GetRequiredService<IBus>();
        var commands = Enumerable.Range(0, actions).Select(i =>
        {
            var args = JsonSerializer.SerializeToElement(new { method = "POST", url = _ticketUrl, body = new { title = $"{runId} {i}" } });
            var command = new ExecuteTool(Guid.CreateVersion7().ToString(), runId, Agent, Tool, args, CanonicalJson.Hash(args), null,
                DateTimeOffset.UtcNow, Authorization: null!);
            return command with { Authorization = _signer!.Sign(command, null, DateTimeOffset.UtcNow.AddMinutes(30)) };
        }).ToList();

        // The whole burst is queued before the copies can drain it, so the copies, not the publisher, set the pace.
        foreach (var chunk in commands.Chunk(100))
            await Task.WhenAll(chunk.Select(c => bus.Publish(c, send => send.Mandatory = true, ct)));

        await using var connection = new NpgsqlConnection(_connectionString);
        var deadline = DateTime.UtcNow.AddSeconds(Math.Max(60, actions * (options.LatencyMs + 50) / 1000.0));
        while (await connection.ExecuteScalarAsync<long>(
                   "SELECT count(*) FROM execution_claims WHERE run_id = @runId AND state <> 'running'", new { runId }) < actions)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"Run {runId} did not finish {actions} actions in time; logs in {_work}.");
            await Task.Delay(100, ct);
        }

        var stats = await connection.QuerySingleAsync<(long Succeeded, double Seconds, double MeanMs, long Executors)>("""
            SELECT count(*) FILTER (WHERE state = 'succeeded'),
                   extract(epoch FROM max(finished_at) - min(claimed_at))::float8,
                   avg(extract(epoch FROM finished_at - claimed_at) * 1000)::float8,
                   count(DISTINCT executor)
              FROM execution_claims WHERE run_id = @runId
            """, new { runId });
        if (stats.Succeeded != actions)
            throw new InvalidOperationException($"Run {runId}: only {stats.Succeeded} of {actions} actions succeeded; logs in {_work}.");
        return new RunResult(0, actions, stats.Seconds, actions / stats.Seconds, stats.MeanMs, (int)stats.Executors);
    }

    async Task StopExecutorsAsync()
    {
        foreach (var process in _executors.Where(p => !p.HasExited))
        {
            try
            {
                // SIGTERM: a graceful stop, as an orchestrator would do it.
                Process.Start("kill", ["-TERM", process.Id.ToString()])?.WaitForExit();
            }
            catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        foreach (var process in _executors)
        {
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                await process.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
            }
            process.Dispose();
        }
        _executors.Clear();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _executors)
        {
            try
            {
                if (!process.HasExited)
                    process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Gone already.
            }
        }
        _executors.Clear();
        if (_publisher is not null)
        {
            await _publisher.StopAsync(CancellationToken.None);
            _publisher.Dispose();
        }
        if (_sandbox is not null)
            await _sandbox.DisposeAsync();
        _signer?.Dispose();
        if (_management is not null)
        {
            if (_vhostCreated)
                await _management.DeleteVirtualHostAsync(VirtualHost, CancellationToken.None);
            _management.Dispose();
        }
        if (_databaseCreated)
        {
            NpgsqlConnection.ClearAllPools();
            await using var admin = new NpgsqlConnection(options.PostgresAdmin);
            await admin.ExecuteAsync($"DROP DATABASE IF EXISTS \"{DatabaseName}\" WITH (FORCE)");
        }
        try
        {
            Directory.Delete(_work, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder is harmless.
        }
    }
}
