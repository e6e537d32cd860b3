using AgentBus.Operations.Broker;
using AgentBus.Executor.Tools;
using AgentBus.IntegrationTests.Infrastructure;
using AgentBus.Testbed;

namespace AgentBus.IntegrationTests.Executor;

/// <summary>agentbus-executor as a real child process (<see cref="ChildServices"/>), configured through environment variables as a deployment would.</summary>
public static class ExecutorProcess
{
    /// <summary>The executor host's build output for the same configuration as this test assembly.</summary>
    public static string DllPath => ServiceProcess.Dll("AgentBus.Executor", "agentbus-executor");

    /// <summary>Launched, not waited for: a test either waits for its consumers or for it to refuse to start.</summary>
    public static async Task<ServiceProcess> StartAsync(PipelineFixture fixture, string tool, IDictionary<string, string?>? environment = null,
        params string[] arguments)
    {
        var brokerUser = BrokerTopology.ExecutorUser(tool);
        var settings = new Dictionary<string, string?>
        {
            ["RabbitMq__Host"] = fixture.Servers.RabbitHost,
            ["RabbitMq__Port"] = fixture.Servers.RabbitPort.ToString(),
            ["RabbitMq__VirtualHost"] = fixture.VirtualHost,
            ["RabbitMq__Username"] = brokerUser,
            ["RabbitMq__PasswordFile"] = fixture.Secrets.PathFor("rabbitmq", brokerUser),
            ["Database__ConnectionString"] = fixture.ConnectionString,
            ["Database__ApplyMigrations"] = "false",
            ["Executor__PolicyKeys"] = fixture.SigningKeysDirectory,
            ["Logging__LogLevel__Default"] = "Information",
        };
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
            settings[key] = value;
        var executor = ChildServices.Create("AgentBus.Executor", "agentbus-executor", settings,
            ["--tool", tool, "--tools-directory", fixture.ToolsDirectory, "--secrets-directory", fixture.ToolSecretsDirectory, .. arguments]);
        await executor.LaunchAsync(CancellationToken.None);
        return executor;
    }

    /// <summary>Waits until the tool's queue has this many consumers, i.e. the copies are taking commands.</summary>
    public static Task WaitForConsumersAsync(PipelineFixture fixture, string tool, int count, ServiceProcess? watch = null) =>
        Eventually.True(async () =>
        {
            if (watch is { Running: false })
                throw new InvalidOperationException($"The executor exited while starting:{Environment.NewLine}{watch.Output}");
            using var http = fixture.AdminHttp();
            using var response = await http.GetAsync(
                $"api/queues/{Uri.EscapeDataString(fixture.VirtualHost)}/{Uri.EscapeDataString(AgentBus.Contracts.WireNames.ToolQueue(tool))}");
            if (!response.IsSuccessStatusCode)
                return false;
            var queue = await System.Net.Http.Json.HttpContentJsonExtensions.ReadFromJsonAsync<System.Text.Json.JsonElement>(response.Content);
            return queue.TryGetProperty("consumers", out var consumers) && consumers.GetInt32() == count;
        }, $"{count} consumers on {tool}'s queue", TimeSpan.FromSeconds(60));
}
