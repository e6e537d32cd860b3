using System.Diagnostics;
using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.IntegrationTests.Infrastructure;

namespace AgentBus.IntegrationTests;

/// <summary>
/// A real agent in another language, written from contracts/README.md alone: Python with pika,
/// run as its own process against the pipeline. If these pass, the documented wire contract is
/// enough to build an agent without the .NET client.
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed class PythonAgentTests(PipelineFixture fixture) : IAsyncLifetime
{
    const string AgentId = "python-agent";

    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    object Ticket(string title) => new { method = "POST", url = new Uri(fixture.SandboxUrl, "/ticketing/tickets").ToString(), body = new { title } };

    object Refund(string order) => new { method = "POST", url = new Uri(fixture.SandboxUrl, "/payments/refunds").ToString(), body = new { orderId = order, amountUsd = 10 } };

    [PythonAgentFact]
    public async Task An_allowed_ticket_from_python_succeeds_with_the_sandboxs_own_reference_and_no_separate_decision()
    {
        var run = await PythonAgent.RunAsync(fixture, AgentId, [new { tool = "ticketing", runId = "run-python", arguments = Ticket("from python") }]);

        Assert.True(run.ExitCode == 0, run.Describe());
        var action = Assert.Single(run.Actions);
        // Allowed at once: the outcome is the only reply, and it implies the decision.
        Assert.Equal("allowed", action.GetProperty("decision").GetString());
        Assert.True(action.GetProperty("decisionInferred").GetBoolean());
        Assert.Equal(nameof(ActionSucceeded), action.GetProperty("outcome").GetString());

        var actionId = action.GetProperty("actionId").GetString();
        var call = Assert.Single(fixture.SandboxCalls.Calls, c => c.ActionId == actionId);
        Assert.True(call.Authorized);
        Assert.Equal("run-python", call.RunId);
        Assert.NotNull(call.Reference);
        Assert.Equal(call.Reference, action.GetProperty("externalReference").GetString());
    }

    [PythonAgentFact]
    public async Task A_python_refund_without_a_grant_is_denied_no_grant_and_never_reaches_the_sandbox()
    {
        var run = await PythonAgent.RunAsync(fixture, AgentId, [new { tool = "payments", runId = "run-python", arguments = Refund("ORD-PY") }]);

        Assert.True(run.ExitCode == 0, run.Describe());
        var action = Assert.Single(run.Actions);
        Assert.Equal("denied", action.GetProperty("decision").GetString());
        Assert.Equal(ReasonCodes.NoGrant, action.GetProperty("reasonCode").GetString());
        Assert.Equal(JsonValueKind.Null, action.GetProperty("outcome").ValueKind);

        // The payments queue is FIFO: once a later allowed refund has run, a stray command for the
        // denied one would already have run before it.
        await using var support = await fixture.ConnectAgentAsync("support-bot");
        var allowed = await support.RunAsync("payments", Refund("ORD-AFTER-PY"), "run-python", TimeSpan.FromSeconds(20));
        Assert.NotNull(allowed.Succeeded);

        var deniedId = action.GetProperty("actionId").GetString();
        Assert.DoesNotContain(fixture.SandboxCalls.Calls, c => c.ActionId == deniedId);
        Assert.Single(fixture.SandboxCalls.Calls);
    }

    [PythonAgentTheory]
    [InlineData("actionId")]
    [InlineData("runId")]
    [InlineData("tool")]
    [InlineData("arguments")]
    public async Task A_python_proposal_missing_a_required_field_is_denied_with_a_reason_code(string field)
    {
        var run = await PythonAgent.RunAsync(fixture, AgentId,
            [new { tool = "ticketing", runId = "run-python", arguments = Ticket("incomplete"), omit = new[] { field } }]);

        Assert.True(run.ExitCode == 0, run.Describe());
        var action = Assert.Single(run.Actions);
        Assert.Equal("denied", action.GetProperty("decision").GetString());
        Assert.Equal(ReasonCodes.MissingField, action.GetProperty("reasonCode").GetString());
        Assert.Contains(field, action.GetProperty("reason").GetString());
        Assert.Empty(fixture.SandboxCalls.Calls);
    }

    [PythonAgentFact]
    public async Task The_python_agent_stops_by_itself_with_exit_code_1_when_answers_do_not_come_in_time()
    {
        // A denied proposal, so nothing reaches the sandbox after this test has ended; a 1 ms wait
        // ends before any reply can be read.
        var run = await PythonAgent.RunAsync(fixture, AgentId, [new { tool = "payments", runId = "run-python", arguments = Refund("ORD-LATE") }],
            waitSeconds: 0.001);

        Assert.True(run.ExitCode == 1, run.Describe());
        var action = Assert.Single(run.Actions);
        Assert.False(action.GetProperty("final").GetBoolean());
        Assert.Contains("timed out", run.Stderr);

        // Leave nothing in flight for the next test: the late decision is in the audit.
        var actionId = action.GetProperty("actionId").GetString();
        await Eventually.True(async () => await fixture.CountAsync(
            "SELECT count(*) FROM audit_events WHERE action_id = @actionId AND event_type = 'ActionDecided'", new { actionId }) == 1,
            "the late decision in the audit");
    }
}

/// <summary>Runs tests/agents/python/agent.py as a separate process, bounded in time.</summary>
static class PythonAgent
{
    public const string Interpreter = "/usr/bin/python3";

    static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(60);

    static readonly Lazy<string?> MissingPika = new(ProbePika);

    /// <summary>Why the agent cannot run here, or null when it can.</summary>
    public static string? SkipReason => MissingPika.Value;

    public static string Script => Path.Combine(RepoRoot(), "tests", "agents", "python", "agent.py");

    public sealed record Run(int ExitCode, IReadOnlyList<JsonElement> Actions, string Stdout, string Stderr)
    {
        public string Describe() => $"agent.py exited {ExitCode}\nstdout:\n{Stdout}\nstderr:\n{Stderr}";
    }

    public static async Task<Run> RunAsync(PipelineFixture fixture, string agentId, object[] proposals, double waitSeconds = 20)
    {
        var start = ChildProcess.StartInfo(Interpreter, Script, "--timeout", waitSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        start.Environment.Remove("PYTHONPATH");
        start.Environment.Remove("PYTHONHOME");
        start.Environment["AGENTBUS_RABBITMQ_HOST"] = fixture.Servers.RabbitHost;
        start.Environment["AGENTBUS_RABBITMQ_PORT"] = fixture.Servers.RabbitPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["AGENTBUS_RABBITMQ_VHOST"] = fixture.VirtualHost;
        start.Environment["AGENTBUS_AGENT_ID"] = agentId;
        start.Environment["AGENTBUS_AGENT_PASSWORD"] = fixture.Secrets.GetOrCreate("rabbitmq", agentId);

        var run = await ChildProcess.RunAsync(start, JsonSerializer.Serialize(proposals), ProcessTimeout, "agent.py");
        var output = run.Stdout;
        var actions = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => JsonSerializer.Deserialize<JsonElement>(line))
            .ToList();
        return new Run(run.ExitCode, actions, output, run.Stderr);
    }

    internal static string RepoRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "AgentBus.sln")))
                return directory.FullName;
        throw new InvalidOperationException($"AgentBus.sln not found above {AppContext.BaseDirectory}.");
    }

    static string? ProbePika() => MissingModules("pika", "python3-pika");

    /// <summary>Why the interpreter cannot import <paramref name="modules"/> (comma-separated), or null when it can.</summary>
    internal static string? MissingModules(string modules, string debianPackages)
    {
        if (!File.Exists(Interpreter))
            return $"{Interpreter} does not exist; install python3 and {debianPackages} (ops/test.sh does).";
        try
        {
            using var probe = Process.Start(new ProcessStartInfo(Interpreter, ["-c", $"import {modules}"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            })!;
            var error = probe.StandardError.ReadToEndAsync();
            if (!probe.WaitForExit(TimeSpan.FromSeconds(20)))
            {
                probe.Kill(entireProcessTree: true);
                return $"{Interpreter} -c 'import {modules}' did not finish within 20 s.";
            }
            return probe.ExitCode == 0
                ? null
                : $"{Interpreter} cannot import {modules}; install Debian's {debianPackages} (ops/test.sh does): {error.Result.Trim()}";
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return $"{Interpreter} cannot be started: {ex.Message}";
        }
    }
}

/// <summary>A fact that is skipped, with the reason, only where /usr/bin/python3 cannot import pika.</summary>
public sealed class PythonAgentFactAttribute : FactAttribute
{
    public PythonAgentFactAttribute() => Skip = PythonAgent.SkipReason;
}

/// <summary>A theory that is skipped, with the reason, only where /usr/bin/python3 cannot import pika.</summary>
public sealed class PythonAgentTheoryAttribute : TheoryAttribute
{
    public PythonAgentTheoryAttribute() => Skip = PythonAgent.SkipReason;
}
