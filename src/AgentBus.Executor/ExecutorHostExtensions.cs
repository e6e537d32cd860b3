using AgentBus.ServiceDefaults.Database;
using AgentBus.Executor.Execution;
using AgentBus.Executor.Tools;
using AgentBus.ServiceDefaults;
using AgentBus.ServiceDefaults.Messaging;
using AgentBus.ServiceDefaults.Security;
using Microsoft.Extensions.Options;
using Polly;

namespace AgentBus.Executor;

public static class ExecutorHostExtensions
{
    /// <summary>The tables and functions the executor service owns (Database/Migrations of this project).</summary>
    public static readonly MigrationSet Migrations = new("executor", typeof(ExecutorHostExtensions).Assembly);

    static readonly Dictionary<string, string> Switches = new()
    {
        ["--tool"] = ExecutorOptions.ToolKey,
        ["--tools-directory"] = ExecutorOptions.Section + ":ToolsDirectory",
        ["--secrets-directory"] = ExecutorOptions.Section + ":SecretsDirectory",
        ["--secret-name"] = ExecutorOptions.Section + ":SecretName",
        ["--policy-keys"] = ExecutorOptions.Section + ":PolicyKeys",
    };

    /// <summary>
    /// One tool per process: reads --tool NAME and that tool's ops/tools/NAME.json; returns the name.
    /// </summary>
    public static string AddExecutorConfiguration(this IHostApplicationBuilder builder, string[] args)
    {
        builder.Configuration.AddCommandLine(args, Switches);

        var tool = builder.Configuration[ExecutorOptions.ToolKey];
        if (string.IsNullOrWhiteSpace(tool))
            throw new InvalidOperationException("Which tool? Start the executor as: agentbus-executor --tool NAME");
        var directory = builder.Configuration[ExecutorOptions.Section + ":ToolsDirectory"] ?? "ops/tools";
        var toolFile = Path.GetFullPath(Path.Combine(directory, Path.GetFileName(tool) + ".json"));
        if (!File.Exists(toolFile))
            throw new InvalidOperationException($"No configuration for tool '{tool}': expected {toolFile}.");
        builder.Configuration.AddJsonFile(toolFile, optional: false, reloadOnChange: false);
        builder.Configuration.AddEnvironmentVariables();
        builder.Configuration.AddCommandLine(args, Switches);
        return tool;
    }

    /// <summary>
    /// Loads that tool's secret alone and the policy service's public keys, and consumes only that
    /// tool's queue; a missing or wrong secret, key or setting stops the process before it takes a command.
    /// </summary>
    public static IHostApplicationBuilder AddExecutor(this IHostApplicationBuilder builder)
    {
        builder.AddOwnedMigrations(Migrations);
        builder.Services.AddValidatedOptions<ExecutorOptions>(ExecutorOptions.Section, ExecutorProblems);
        builder.Services.AddValidatedOptions<ToolOptions>(ToolOptions.Section, ToolProblems);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(services =>
        {
            var options = services.GetRequiredService<IOptions<ExecutorOptions>>().Value;
            return ToolSecret.Load(options.Tool, options.SecretName, options.SecretsDirectory);
        });
        builder.Services.AddSingleton(services =>
            AuthorizationVerifier.FromPath(services.GetRequiredService<IOptions<ExecutorOptions>>().Value.PolicyKeys));
        builder.Services.AddSingleton(services =>
        {
            var options = services.GetRequiredService<IOptions<ExecutorOptions>>().Value;
            return new ExecutorInstance(string.IsNullOrWhiteSpace(options.InstanceName)
                ? $"{options.Tool}@{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..6]}"
                : options.InstanceName);
        });
        builder.Services.AddHostedService<StartupCheck>();

        builder.Services.AddSingleton<ClaimStore>();
        builder.Services.AddSingleton<ClaimHeartbeat>();
        // Before the bus: hosted services stop in reverse order, so heartbeats outlive the last in-flight call.
        builder.Services.AddHostedService(services => services.GetRequiredService<ClaimHeartbeat>());
        builder.Services.AddSingleton<ResultRedactor>();
        builder.Services.AddSingleton<ToolRunner>();
        builder.Services.AddResiliencePipeline<string, Tools.ToolOutcome>(ToolRunner.PipelineKey, (pipeline, context) =>
        {
            var tool = context.ServiceProvider.GetRequiredService<IOptions<ToolOptions>>().Value;
            var name = context.ServiceProvider.GetRequiredService<IOptions<ExecutorOptions>>().Value.Tool;
            ToolRunner.Configure(pipeline, name, tool);
        });

        var kind = builder.Configuration[ToolOptions.Section + ":" + nameof(ToolOptions.Kind)];
        if (string.Equals(kind, NoopTool.Kind, StringComparison.OrdinalIgnoreCase))
            builder.Services.AddSingleton<ITool, NoopTool>();
        else if (string.Equals(kind, CatalogHttpTool.Kind, StringComparison.OrdinalIgnoreCase))
        {
            builder.Services.AddSingleton<CatalogStore>();
            builder.Services.AddHostedService(services => services.GetRequiredService<CatalogStore>());
            ConfigureHttp(builder.Services.AddHttpClient<ITool, CatalogHttpTool>());
        }
        else
            ConfigureHttp(builder.Services.AddHttpClient<ITool, HttpTool>());

        builder.AddAgentBusMessaging($"agentbus-executor-{builder.Configuration[ExecutorOptions.ToolKey]}", bus => bus.AddConsumer<ExecuteToolConsumer>(typeof(ExecuteToolConsumerDefinition)));
        return builder;
    }

    /// <summary>Redirects are never followed: a redirect could carry the secret to a host the tool does not name.</summary>
    static void ConfigureHttp(IHttpClientBuilder client) =>
        client.ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                AllowAutoRedirect = false,
                PooledConnectionLifetime = TimeSpan.FromMinutes(2),
                ConnectTimeout = TimeSpan.FromSeconds(5),
            })
            .ConfigureHttpClient(http => http.Timeout = Timeout.InfiniteTimeSpan);

    static IEnumerable<string> ExecutorProblems(ExecutorOptions options)
    {
        if (!string.IsNullOrWhiteSpace(options.Tool))
        {
            string? secretProblem = null;
            try
            {
                ToolSecret.Load(options.Tool, options.SecretName, options.SecretsDirectory);
            }
            catch (InvalidOperationException ex)
            {
                secretProblem = ex.Message;
            }
            if (secretProblem is not null)
                yield return secretProblem;
        }
        if (!string.IsNullOrWhiteSpace(options.PolicyKeys))
        {
            string? problem = null;
            try
            {
                using var verifier = AuthorizationVerifier.FromPath(options.PolicyKeys);
            }
            catch (InvalidOperationException ex)
            {
                problem = $"Executor:PolicyKeys: {ex.Message}";
            }
            if (problem is not null)
                yield return problem;
        }
    }

    static IEnumerable<string> ToolProblems(ToolOptions tool)
    {
        var http = string.Equals(tool.Kind, "http", StringComparison.OrdinalIgnoreCase);
        var catalog = string.Equals(tool.Kind, CatalogHttpTool.Kind, StringComparison.OrdinalIgnoreCase);
        if (!http && !catalog && !string.Equals(tool.Kind, NoopTool.Kind, StringComparison.OrdinalIgnoreCase))
            yield return $"Tool:Kind '{tool.Kind}' is not a known tool kind (known: {CatalogHttpTool.Kind}, http, {NoopTool.Kind}).";
        if (http && tool.Http.AllowedHosts.Count == 0)
            yield return "Tool:Http:AllowedHosts must list at least one host:port.";
        if (catalog && string.IsNullOrWhiteSpace(tool.Catalog))
            yield return "Tool:Catalog must name the catalog folder (e.g. \"../catalog\", from the tools folder) for a tool of kind catalog.";
        if (tool.BaseUrl is { } baseUrl && !Catalog.Http.OperationUrlTemplate.TryParseBase(baseUrl, out _, out var baseProblem))
            yield return $"Tool:BaseUrl: {baseProblem}";
        if (tool.Resilience.AttemptTimeout > tool.Resilience.TotalTimeout)
            yield return "Tool:Resilience:AttemptTimeout must not be longer than Tool:Resilience:TotalTimeout.";
        if (tool.CacheTtl > TimeSpan.Zero && !tool.ReadOnly && !catalog)
            yield return "Tool:CacheTtl needs Tool:ReadOnly: only a read-only tool may answer from a cache (or a catalog's read-only operations).";
        if (tool.PrefetchCount < tool.ConcurrentMessageLimit)
            yield return "Tool:PrefetchCount must be at least Tool:ConcurrentMessageLimit, or calls wait for deliveries.";
        foreach (var path in tool.Redact)
            if (ResultRedactor.PathProblem(path) is { } problem)
                yield return problem;
    }

    /// <summary>Resolves the secret and the keys while starting, so a missing one stops the process before it takes any command.</summary>
    sealed class StartupCheck(IServiceProvider services, ILogger<StartupCheck> logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            services.GetRequiredService<ToolSecret>();
            // A catalog that does not load stops the process here, with its file:line errors.
            services.GetService<CatalogStore>();
            var verifier = services.GetRequiredService<AuthorizationVerifier>();
            var instance = services.GetRequiredService<ExecutorInstance>();
            logger.LogInformation("Executor {Instance} trusts policy keys {KeyIds}", instance.Name, string.Join(", ", verifier.KeyIds));
            var options = services.GetRequiredService<IOptions<ExecutorOptions>>().Value;
            var readable = ReadableNeighbours(options.SecretsDirectory, options.Tool);
            if (readable.Count > 0)
                logger.LogWarning("The executor for {Tool} can read other files in its secrets directory {SecretsDirectory}: {Files}. " +
                                  "It loads only its own, but a compromised process could read them: give each executor a folder with its own " +
                                  "secret only, readable by its user alone (ops/lib/confine.sh, docs/executors.md)",
                    options.Tool, options.SecretsDirectory, string.Join(", ", readable));
            return Task.CompletedTask;
        }

        /// <summary>Files beside this tool's secret that this process could open: what it could steal, not what it loads.</summary>
        static List<string> ReadableNeighbours(string? directory, string tool)
        {
            var readable = new List<string>();
            if (string.IsNullOrEmpty(directory) || !Directory.Exists(directory))
                return readable;
            foreach (var file in Directory.EnumerateFiles(directory).Order(StringComparer.Ordinal))
            {
                if (Path.GetFileName(file) == tool)
                    continue;
                try
                {
                    using var stream = File.OpenRead(file);
                    readable.Add(Path.GetFileName(file));
                }
                catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
                {
                    // Unreadable to this user: as it should be.
                }
            }
            return readable;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
