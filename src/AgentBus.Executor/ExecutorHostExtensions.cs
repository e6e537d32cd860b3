using AgentBus.Executor.Execution;
using AgentBus.Executor.Tools;
using AgentBus.ServiceDefaults;
using AgentBus.ServiceDefaults.Messaging;
using Microsoft.Extensions.Options;

namespace AgentBus.Executor;

public static class ExecutorHostExtensions
{
    static readonly Dictionary<string, string> Switches = new()
    {
        ["--tool"] = ExecutorOptions.ToolKey,
        ["--tools-directory"] = ExecutorOptions.Section + ":ToolsDirectory",
        ["--secrets-directory"] = ExecutorOptions.Section + ":SecretsDirectory",
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

    /// <summary>Loads that tool's secret alone and consumes only that tool's queue.</summary>
    public static IHostApplicationBuilder AddExecutor(this IHostApplicationBuilder builder)
    {
        builder.Services.AddValidatedOptions<ExecutorOptions>(ExecutorOptions.Section);
        builder.Services.AddValidatedOptions<ToolOptions>(ToolOptions.Section, ToolProblems);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(services =>
        {
            var options = services.GetRequiredService<IOptions<ExecutorOptions>>().Value;
            return ToolSecret.Load(options.Tool, options.SecretsDirectory);
        });
        builder.Services.AddHostedService<SecretCheck>();

        builder.Services.AddHttpClient<ITool, HttpTool>()
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                AllowAutoRedirect = false,
                PooledConnectionLifetime = TimeSpan.FromMinutes(2),
                ConnectTimeout = TimeSpan.FromSeconds(5),
            })
            .ConfigureHttpClient(http => http.Timeout = Timeout.InfiniteTimeSpan);

        builder.AddAgentBusMessaging($"agentbus-executor-{builder.Configuration[ExecutorOptions.ToolKey]}", bus => bus.AddConsumer<ExecuteToolConsumer>(typeof(ExecuteToolConsumerDefinition)));
        return builder;
    }

    static IEnumerable<string> ToolProblems(ToolOptions tool)
    {
        if (!string.Equals(tool.Kind, "http", StringComparison.OrdinalIgnoreCase))
            yield return $"Tool:Kind '{tool.Kind}' is not a known tool kind (known: http).";
        if (tool.Http.AllowedHosts.Count == 0)
            yield return "Tool:Http:AllowedHosts must list at least one host:port.";
        if (tool.Http.Timeout <= TimeSpan.Zero || tool.Http.Timeout > TimeSpan.FromMinutes(5))
            yield return "Tool:Http:Timeout must be between 0 and 5 minutes.";
    }

    /// <summary>Resolves the secret while starting, so a missing one stops the process before it takes any command.</summary>
    sealed class SecretCheck(IServiceProvider services) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            services.GetRequiredService<ToolSecret>();
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
