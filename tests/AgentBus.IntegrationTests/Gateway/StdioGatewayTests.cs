using AgentBus.IntegrationTests.Infrastructure;
using ModelContextProtocol.Client;

namespace AgentBus.IntegrationTests.Gateway;

/// <summary>
/// `agentbus mcp` as a desktop MCP client starts it: a child process speaking MCP on stdin/stdout, driven
/// by the official C# client's stdio transport, acting as one agent on its own broker login.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class StdioGatewayTests(GatewayFixture fixture) : IAsyncLifetime
{
    // The CLI's own build output: its deps and runtimeconfig, not the test project's.
    static readonly string Cli = AgentBus.Testbed.ServiceProcess.Dll("AgentBus.Cli", "agentbus");

    public async Task InitializeAsync()
    {
        await fixture.ResetAsync();
        await fixture.UsePolicyAsync(GatewayFixture.PolicyYaml);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_stdio_server_lists_the_agents_operations_and_runs_a_call_through_the_pipeline()
    {
        var passwordFile = Path.GetTempFileName();
        await File.WriteAllTextAsync(passwordFile, fixture.PasswordOf("support-bot"));
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            var transport = new StdioClientTransport(new StdioClientTransportOptions
            {
                Command = "dotnet",
                Arguments = [Cli, .. Arguments("support-bot", passwordFile)],
                Name = "agentbus-mcp-stdio",
                ShutdownTimeout = TimeSpan.FromSeconds(10),
            });
            await using var client = await McpClient.CreateAsync(transport, cancellationToken: timeout.Token);

            var tools = await client.ListToolsAsync(cancellationToken: timeout.Token);
            Assert.Contains("payments_get_order", tools.Select(t => t.Name));
            Assert.DoesNotContain("payments_cancel_refund", tools.Select(t => t.Name));

            var result = await client.CallToolAsync("payments_get_order", new Dictionary<string, object?> { ["orderId"] = "ORD-1001" },
                cancellationToken: timeout.Token);
            Assert.NotEqual(true, result.IsError);
            Assert.Equal("succeeded", result.StructuredContent!.Value.GetProperty("status").GetString());
            Assert.Single(fixture.SandboxCalls.Calls, c => c.Method == "GET");
        }
        finally
        {
            File.Delete(passwordFile);
        }
    }

    [Fact]
    public async Task A_wrong_password_stops_the_stdio_server_at_once_with_a_reason_on_stderr_and_nothing_on_stdout()
    {
        var passwordFile = Path.GetTempFileName();
        await File.WriteAllTextAsync(passwordFile, "not-the-password");
        try
        {
            var run = await ChildProcess.RunAsync(ChildProcess.StartInfo("dotnet", [Cli, .. Arguments("support-bot", passwordFile)]), null,
                TimeSpan.FromSeconds(60), "agentbus mcp");

            Assert.Equal(2, run.ExitCode);
            Assert.Contains("wrong password", run.Stderr, StringComparison.OrdinalIgnoreCase);
            Assert.Equal("", run.Stdout);
        }
        finally
        {
            File.Delete(passwordFile);
        }
    }

    string[] Arguments(string agentId, string passwordFile) =>
    [
        "mcp", "--agent", agentId, "--password-file", passwordFile, "--policy", fixture.PolicyFile,
        "--rabbitmq-host", fixture.Servers.RabbitHost, "--rabbitmq-port", fixture.Servers.RabbitPort.ToString(), "--vhost", fixture.VirtualHost,
        "--approvals-url", fixture.ApprovalsUrl.ToString(),
    ];
}
