using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.Executor;
using AgentBus.Executor.Execution;
using AgentBus.Executor.Tools;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Registry;

namespace AgentBus.UnitTests.Executor;

public class ToolRunnerTests
{
    static readonly JsonElement Ok = JsonSerializer.SerializeToElement(new { status = 200, body = new { id = "X-1", password = "p" } });
    static readonly ToolCall Call = new("a-1", "run-1", "support-bot", JsonSerializer.SerializeToElement(new { }), "a-1");

    /// <summary>A plugin that answers from a script, one entry per attempt, and remembers what it was given.</summary>
    sealed class ScriptedTool(params Func<CancellationToken, Task<ToolOutcome>>[] script) : ITool
    {
        public List<ToolCall> Calls { get; } = [];

        public Task<ToolOutcome> ExecuteAsync(ToolCall call, CancellationToken cancellationToken)
        {
            lock (Calls)
            {
                Calls.Add(call);
                return script[Math.Min(Calls.Count - 1, script.Length - 1)](cancellationToken);
            }
        }
    }

    static Func<CancellationToken, Task<ToolOutcome>> Answer(ToolOutcome outcome) => _ => Task.FromResult(outcome);

    static readonly Func<CancellationToken, Task<ToolOutcome>> Success = Answer(ToolOutcome.Success(Ok, "X-1"));
    static readonly Func<CancellationToken, Task<ToolOutcome>> ServerError = Answer(ToolOutcome.Unknown("http_503", "503"));
    static readonly Func<CancellationToken, Task<ToolOutcome>> Unreachable = Answer(ToolOutcome.NotExecuted("unreachable", "refused", transient: true));
    static readonly Func<CancellationToken, Task<ToolOutcome>> BadRequest = Answer(ToolOutcome.NotExecuted("http_400", "400"));
    static readonly Func<CancellationToken, Task<ToolOutcome>> Hang = async token =>
    {
        await Task.Delay(Timeout.Infinite, token);
        throw new InvalidOperationException("unreachable");
    };

    static ToolOptions Options(bool idempotent = false, bool readOnly = false, int retries = 3, TimeSpan? cacheTtl = null,
        int breakerMinimum = 100, TimeSpan? attemptTimeout = null) => new()
    {
        Kind = "http",
        Idempotent = idempotent,
        ReadOnly = readOnly,
        CacheTtl = cacheTtl ?? TimeSpan.Zero,
        Redact = ["$..password"],
        Resilience = new ToolResilienceOptions
        {
            MaxRetries = retries,
            RetryDelay = TimeSpan.Zero,
            AttemptTimeout = attemptTimeout ?? TimeSpan.FromSeconds(5),
            TotalTimeout = TimeSpan.FromSeconds(10),
            BreakerMinimumThroughput = breakerMinimum,
            BreakerFailureRatio = 0.5,
            BreakerSamplingDuration = TimeSpan.FromSeconds(30),
            BreakerBreakDuration = TimeSpan.FromSeconds(30),
        },
    };

    static ToolRunner Runner(ITool tool, ToolOptions options)
    {
        var services = new ServiceCollection();
        services.AddResiliencePipeline<string, ToolOutcome>(ToolRunner.PipelineKey, pipeline => ToolRunner.Configure(pipeline, "test", options));
        var provider = services.BuildServiceProvider();
        return new ToolRunner(tool, provider.GetRequiredService<ResiliencePipelineProvider<string>>(), new ResultRedactor(options.Redact, "secret"),
            Microsoft.Extensions.Options.Options.Create(options), Microsoft.Extensions.Options.Options.Create(new ExecutorOptions { Tool = "test" }));
    }

    [Fact]
    public async Task A_tool_that_is_not_idempotent_is_never_retried_after_the_request_may_have_arrived()
    {
        var tool = new ScriptedTool(ServerError, Success);
        var run = await Runner(tool, Options()).RunAsync(Call, "h");

        Assert.Single(tool.Calls);
        Assert.Equal(1, run.Attempts);
        Assert.True(run.Outcome.OutcomeUnknown);
        Assert.Equal("http_503", run.Outcome.ErrorCode);
    }

    [Fact]
    public async Task An_idempotent_tool_is_retried_with_the_same_idempotency_key_until_it_succeeds()
    {
        var tool = new ScriptedTool(ServerError, ServerError, Success);
        var run = await Runner(tool, Options(idempotent: true)).RunAsync(Call, "h");

        Assert.True(run.Outcome.Succeeded);
        Assert.Equal(3, run.Attempts);
        Assert.All(tool.Calls, call => Assert.Equal("a-1", call.IdempotencyKey));
        Assert.Equal("X-1", run.Outcome.ExternalReference);
    }

    [Fact]
    public async Task A_call_that_certainly_did_not_arrive_is_retried_for_any_tool()
    {
        var tool = new ScriptedTool(Unreachable, Success);
        var run = await Runner(tool, Options()).RunAsync(Call, "h");
        Assert.True(run.Outcome.Succeeded);
        Assert.Equal(2, run.Attempts);
    }

    [Fact]
    public async Task A_refusal_by_the_system_is_final()
    {
        var tool = new ScriptedTool(BadRequest, Success);
        var run = await Runner(tool, Options(idempotent: true)).RunAsync(Call, "h");
        Assert.Single(tool.Calls);
        Assert.False(run.Outcome.OutcomeUnknown);
        Assert.Equal("http_400", run.Outcome.ErrorCode);
    }

    [Fact]
    public async Task Retries_stop_at_the_limit_and_an_earlier_uncertain_attempt_keeps_the_outcome_unknown()
    {
        var tool = new ScriptedTool(ServerError, Unreachable);
        var run = await Runner(tool, Options(idempotent: true, retries: 2)).RunAsync(Call, "h");

        Assert.Equal(3, run.Attempts);
        Assert.Equal("unreachable", run.Outcome.ErrorCode);
        Assert.True(run.Outcome.OutcomeUnknown);
    }

    [Fact]
    public async Task An_attempt_that_times_out_is_outcome_unknown_and_not_retried_for_a_tool_that_is_not_idempotent()
    {
        var tool = new ScriptedTool(Hang, Success);
        var run = await Runner(tool, Options(attemptTimeout: TimeSpan.FromMilliseconds(100))).RunAsync(Call, "h");

        Assert.Single(tool.Calls);
        Assert.Equal(ExecutionErrorCodes.Timeout, run.Outcome.ErrorCode);
        Assert.True(run.Outcome.OutcomeUnknown);
    }

    [Fact]
    public async Task An_idempotent_tool_retries_after_an_attempt_timeout()
    {
        var tool = new ScriptedTool(Hang, Success);
        var run = await Runner(tool, Options(idempotent: true, attemptTimeout: TimeSpan.FromMilliseconds(100))).RunAsync(Call, "h");
        Assert.True(run.Outcome.Succeeded);
        Assert.Equal(2, run.Attempts);
    }

    [Fact]
    public async Task A_plugin_that_throws_leaves_the_outcome_unknown()
    {
        var tool = new ScriptedTool(_ => throw new IOException("boom"));
        var run = await Runner(tool, Options(idempotent: true)).RunAsync(Call, "h");
        Assert.Single(tool.Calls);
        Assert.True(run.Outcome.OutcomeUnknown);
        Assert.Equal(ExecutionErrorCodes.ToolError, run.Outcome.ErrorCode);
    }

    [Fact]
    public async Task After_enough_failures_the_circuit_opens_and_calls_fail_fast_without_reaching_the_tool()
    {
        var tool = new ScriptedTool(Unreachable);
        var runner = Runner(tool, Options(retries: 0, breakerMinimum: 4));
        for (var i = 0; i < 4; i++)
            Assert.Equal("unreachable", (await runner.RunAsync(Call, "h")).Outcome.ErrorCode);

        var callsBefore = tool.Calls.Count;
        var run = await runner.RunAsync(Call, "h");
        Assert.Equal(ExecutionErrorCodes.CircuitOpen, run.Outcome.ErrorCode);
        Assert.False(run.Outcome.OutcomeUnknown);
        Assert.Equal(callsBefore, tool.Calls.Count);
    }

    [Fact]
    public async Task A_read_only_tool_answers_the_same_arguments_from_its_cache_within_the_ttl()
    {
        var tool = new ScriptedTool(Success);
        var runner = Runner(tool, Options(readOnly: true, cacheTtl: TimeSpan.FromMinutes(1)));

        var first = await runner.RunAsync(Call, "sha256:aa");
        var second = await runner.RunAsync(Call, "sha256:aa");
        var other = await runner.RunAsync(Call, "sha256:bb");

        Assert.Equal(2, tool.Calls.Count);
        Assert.False(first.FromCache);
        Assert.True(second.FromCache);
        Assert.Equal(0, second.Attempts);
        Assert.False(other.FromCache);
        Assert.Equal(first.Outcome.Result.GetRawText(), second.Outcome.Result.GetRawText());
    }

    [Fact]
    public async Task Results_are_redacted_before_anyone_sees_them()
    {
        var run = await Runner(new ScriptedTool(Success), Options()).RunAsync(Call, "h");
        Assert.Equal(ResultRedactor.Mask, run.Outcome.Result.GetProperty("body").GetProperty("password").GetString());
    }
}
