using System.Diagnostics;
using AgentBus.IntegrationTests.Infrastructure;

namespace AgentBus.IntegrationTests.Executor;

/// <summary>
/// An executor started the way ops/run.sh starts it (ops/lib/confine.sh) runs as its own system user
/// and cannot read another tool's secret, the shared secrets folder or an administrator's password:
/// checked against the real OS users and file modes, not against what the process chooses to load.
/// </summary>
[Collection(ExecutorProcessCollection.Name)]
public sealed class ExecutorConfinementTests(ExecutorProcessFixture fixture) : IAsyncLifetime
{
    const string AdminCanary = "admin-password-canary-7f3a";
    readonly DirectoryInfo _state = Directory.CreateTempSubdirectory("agentbus-confine-");

    public Task InitializeAsync()
    {
        // Like /var/lib/agentbus: other users may traverse it, nothing more.
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(_state.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                                              | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        return fixture.ResetAsync();
    }

    public Task DisposeAsync()
    {
        _state.Delete(recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task An_executor_started_like_ops_run_sh_runs_as_its_own_user_and_cannot_read_another_tools_secret()
    {
        Assert.True(Environment.UserName == "root", "confinement is set up by root (useradd, chown); run the tests as root, as ops/test.sh does");
        var payments = await File.ReadAllTextAsync(Path.Combine(fixture.ToolSecretsDirectory, "payments"));
        await PrepareAsync("payments");
        await PrepareAsync("ticketing");

        var pid = int.Parse(await ConfineAsync($"confine_executor_start ticketing {_state.FullName} {_state.FullName}/ticketing.log --urls http://127.0.0.1:0"));
        try
        {
            await ExecutorProcess.WaitForConsumersAsync(fixture, "ticketing", 1);
            await using var agent = await fixture.ConnectAgentAsync("support-bot");
            var result = await agent.RunAsync("ticketing", fixture.Ticket("from a confined executor"), "run-confined", TimeSpan.FromSeconds(30));
            Assert.NotNull(result.Succeeded);

            var uid = (await RunAsync("id", "-u", "agentbus-exec-ticketing")).Output.Trim();
            var status = await File.ReadAllLinesAsync($"/proc/{pid}/status");
            Assert.StartsWith($"Uid:\t{uid}\t{uid}\t{uid}", status.Single(l => l.StartsWith("Uid:", StringComparison.Ordinal)));
            var environment = await File.ReadAllTextAsync($"/proc/{pid}/environ");
            Assert.DoesNotContain(AdminCanary, environment);
            Assert.DoesNotContain("AGENTBUS_POSTGRES_ADMIN", environment);
            Assert.DoesNotContain(payments, environment);

            foreach (var path in new[]
                     {
                         Path.Combine(fixture.ToolSecretsDirectory, "payments"),
                         Path.Combine(_state.FullName, "executors", "payments", "secrets", "payments"),
                         Path.Combine(_state.FullName, "executors", "payments", "rabbitmq.password"),
                     })
            {
                var read = await AsUserAsync("agentbus-exec-ticketing", "cat", path);
                Assert.True(read.ExitCode != 0, $"agentbus-exec-ticketing could read {path}");
                Assert.DoesNotContain(payments, read.Output);
            }
            Assert.NotEqual(0, (await AsUserAsync("agentbus-exec-ticketing", "ls", Path.Combine(_state.FullName, "executors"))).ExitCode);
            var own = await AsUserAsync("agentbus-exec-ticketing", "cat", Path.Combine(_state.FullName, "executors", "ticketing", "secrets", "ticketing"));
            Assert.Equal(0, own.ExitCode);
        }
        finally
        {
            await RunAsync("kill", "-9", pid.ToString());
        }
    }

    Task<string> PrepareAsync(string tool) => ConfineAsync(
        $"confine_executor_prepare {tool} {_state.FullName} {fixture.Secrets.Directory} " +
        $"{Path.Combine(fixture.SigningKeysDirectory, AgentBus.Cli.Commands.KeyCommands.DefaultName + ".pub.pem")} " +
        $"{Path.Combine(fixture.ToolsDirectory, tool + ".json")} {Path.GetDirectoryName(ExecutorProcess.DllPath)}");

    /// <summary>Runs a function of ops/lib/confine.sh with the broker and database coordinates a deployment exports, plus an administrator's password.</summary>
    async Task<string> ConfineAsync(string call)
    {
        var script = Path.Combine(RepositoryRoot(), "ops", "lib", "confine.sh");
        var result = await RunAsync(new Dictionary<string, string>
        {
            ["RabbitMq__Host"] = fixture.Servers.RabbitHost,
            ["RabbitMq__Port"] = fixture.Servers.RabbitPort.ToString(),
            ["RabbitMq__VirtualHost"] = fixture.VirtualHost,
            ["RabbitMq__Username"] = AgentBus.Operations.Broker.BrokerTopology.ExecutorUser("ticketing"),
            ["Database__ConnectionString"] = fixture.ConnectionString,
            ["Database__ApplyMigrations"] = "false",
            ["MASSTRANSIT_USAGE_TELEMETRY"] = "false",
            ["AGENTBUS_POSTGRES_ADMIN"] = $"Host=127.0.0.1;Password={AdminCanary}",
            ["AGENTBUS_RABBITMQ_ADMIN_PASSWORD"] = AdminCanary,
        }, "bash", "-c", $". '{script}' && {call}");
        Assert.True(result.ExitCode == 0, $"{call} failed: {result.Output}");
        return result.Output.Trim();
    }

    static Task<(int ExitCode, string Output)> AsUserAsync(string user, params string[] command) =>
        RunAsync("setpriv", [$"--reuid={user}", $"--regid={user}", "--init-groups", .. command]);

    static Task<(int ExitCode, string Output)> RunAsync(string file, params string[] arguments) =>
        RunAsync(new Dictionary<string, string>(), file, arguments);

    static async Task<(int ExitCode, string Output)> RunAsync(Dictionary<string, string> environment, string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        foreach (var (key, value) in environment)
            start.Environment[key] = value;
        using var process = Process.Start(start)!;
        // The started executor keeps no handle on these pipes (its output goes to its log), so reading to the end returns.
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output + await error);
    }

    static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "AgentBus.sln")))
                return directory.FullName;
        throw new InvalidOperationException($"No AgentBus.sln above {AppContext.BaseDirectory}.");
    }
}
