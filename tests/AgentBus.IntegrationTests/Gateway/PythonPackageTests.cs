using System.Diagnostics;
using System.Globalization;
using AgentBus.IntegrationTests.Infrastructure;

namespace AgentBus.IntegrationTests.Gateway;

/// <summary>
/// The Python package in clients/python, installed with pip into a fresh venv and tested with its own
/// pytest suite against this pipeline and its MCP gateway (for the operations list), as agent
/// python-agent. The gateway fixture's policy grants python-agent ticketing [create_ticket, comment]
/// and nothing of payments: what the integration tests expect.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class PythonPackageTests(GatewayFixture fixture) : IAsyncLifetime
{
    const string AgentId = "python-agent";

    static readonly TimeSpan ProcessTimeout = TimeSpan.FromMinutes(5);

    static readonly Lazy<string?> Missing = new(ProbeModules);

    public async Task InitializeAsync()
    {
        await fixture.ResetAsync();
        await fixture.UsePolicyAsync(GatewayFixture.PolicyYaml);
        using var http = new HttpClient { BaseAddress = fixture.SandboxUrl };
        (await http.DeleteAsync("/calls")).EnsureSuccessStatusCode();
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [PythonPackageFact]
    public async Task The_python_packages_own_tests_pass_against_the_real_pipeline()
    {
        var state = Directory.CreateTempSubdirectory("agentbus-python-");
        try
        {
            var run = await RunTestsAsync(state.FullName);

            Assert.True(run.ExitCode == 0, run.Describe());
            Assert.Contains(" passed", run.Stdout);
            // Integration tests that skipped for want of settings would pass vacuously: none may skip.
            Assert.DoesNotContain("SKIPPED", run.Stdout, StringComparison.Ordinal);
            Assert.Contains(fixture.SandboxCalls.Calls, c => c.Method == "POST" && c.Path == "/api/tickets");
        }
        finally
        {
            state.Delete(recursive: true);
        }
    }

    async Task<Run> RunTestsAsync(string stateDirectory)
    {
        var start = ChildProcess.StartInfo("/bin/bash", Script, "-q");
        start.Environment.Remove("PYTHONPATH");
        start.Environment.Remove("PYTHONHOME");
        start.Environment["AGENTBUS_STATE_DIR"] = stateDirectory;
        start.Environment["AGENTBUS_RABBITMQ_HOST"] = fixture.Servers.RabbitHost;
        start.Environment["AGENTBUS_RABBITMQ_PORT"] = fixture.Servers.RabbitPort.ToString(CultureInfo.InvariantCulture);
        start.Environment["AGENTBUS_RABBITMQ_VHOST"] = fixture.VirtualHost;
        start.Environment["AGENTBUS_AGENT_ID"] = AgentId;
        start.Environment["AGENTBUS_AGENT_PASSWORD"] = fixture.Secrets.GetOrCreate("rabbitmq", AgentId);
        start.Environment["AGENTBUS_GATEWAY_URL"] = fixture.GatewayUrl.ToString();

        var run = await ChildProcess.RunAsync(start, null, ProcessTimeout, "clients/python/run-tests.sh");
        return new Run(run.ExitCode, run.Stdout, run.Stderr);
    }

    static string Script => Path.Combine(PythonAgent.RepoRoot(), "clients", "python", "run-tests.sh");

    sealed record Run(int ExitCode, string Stdout, string Stderr)
    {
        public string Describe() => $"clients/python/run-tests.sh exited {ExitCode}\npytest output:\n{Stdout}\nstderr:\n{Stderr}";
    }

    /// <summary>Why the package cannot be installed and tested here, or null when it can.</summary>
    internal static string? SkipReason => PythonAgent.SkipReason ?? Missing.Value;

    static string? ProbeModules() =>
        PythonAgent.MissingModules("pytest, venv, setuptools, wheel, pip", "python3-pytest python3-venv python3-setuptools python3-wheel python3-pip");
}

/// <summary>A fact that is skipped, with the reason, only where Debian's python3 cannot install and test the package.</summary>
public sealed class PythonPackageFactAttribute : FactAttribute
{
    public PythonPackageFactAttribute() => Skip = PythonPackageTests.SkipReason;
}
