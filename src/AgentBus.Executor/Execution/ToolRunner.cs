using AgentBus.ServiceDefaults.Telemetry;
using System.Diagnostics;
using AgentBus.Contracts;
using AgentBus.Executor.Tools;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Registry;
using Polly.Retry;
using Polly.Timeout;

namespace AgentBus.Executor.Execution;

/// <summary>What running a call produced, whatever the number of attempts.</summary>
/// <param name="Attempts">Calls made to the tool; 0 when the result came from the read-only cache.</param>
/// <param name="UnitCostUsd">What one call of this tool (or catalog operation) costs; nothing is charged for a cached answer.</param>
public sealed record ToolRun(ToolOutcome Outcome, int Attempts, TimeSpan Duration, bool FromCache, decimal UnitCostUsd = 0)
{
    public decimal CostUsd => Outcome.Succeeded && !FromCache ? UnitCostUsd : 0;
}

/// <summary>
/// Runs one authorized call through the tool's resilience pipeline (Polly: total timeout, retry with
/// exponential backoff and jitter, circuit breaker, attempt timeout), serves read-only tools from
/// the cache, and redacts every result. What may be retried follows from what the plugin says:
/// a failure that certainly did not reach the system always; one that may have, only for tools
/// declared idempotent, which get the same Idempotency-Key each time.
/// </summary>
public sealed class ToolRunner : IDisposable
{
    public const string PipelineKey = "agentbus-tool";

    readonly ITool _tool;
    readonly ResiliencePipeline<ToolOutcome> _pipeline;
    readonly ResultRedactor _redactor;
    readonly ToolOptions _options;
    readonly string _toolName;
    readonly MemoryCache? _cache;
    readonly IOperationSettings? _operations;
    readonly System.Collections.Concurrent.ConcurrentDictionary<string, (ResiliencePipeline<ToolOutcome>, ToolOptions)> _byOperation = new(StringComparer.Ordinal);

    public ToolRunner(ITool tool, ResiliencePipelineProvider<string> pipelines, ResultRedactor redactor,
        IOptions<ToolOptions> options, IOptions<ExecutorOptions> executor)
    {
        _tool = tool;
        _pipeline = pipelines.GetPipeline<ToolOutcome>(PipelineKey);
        _redactor = redactor;
        _options = options.Value;
        _toolName = executor.Value.Tool;
        _operations = tool as IOperationSettings;
        if ((_options.ReadOnly || _operations is not null) && _options.CacheTtl > TimeSpan.Zero)
            _cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = _options.CacheMaxEntries });
    }

    /// <summary>
    /// The tool's pipeline, or an operation's own when the catalog gives it other timeouts, retries
    /// or idempotency; built once per operation and settings, so its circuit breaker keeps its state.
    /// </summary>
    (ResiliencePipeline<ToolOutcome>, ToolOptions) PipelineFor(string? operation)
    {
        if (_operations?.SettingsFor(operation) is not { } settings)
            return (_pipeline, _options);
        return _byOperation.GetOrAdd(settings.Key, static (_, state) =>
        {
            var builder = new ResiliencePipelineBuilder<ToolOutcome>();
            Configure(builder, state.Tool, state.Options);
            return (builder.Build(), state.Options);
        }, (Tool: _toolName, settings.Options));
    }

    /// <param name="argumentsHash">The verified hash of the canonical arguments: the cache key.</param>
    public async Task<ToolRun> RunAsync(ToolCall call, string argumentsHash)
    {
        var started = Stopwatch.GetTimestamp();
        var (pipeline, options) = PipelineFor(call.Operation);
        // Two operations may take the same arguments (get and close a ticket): the cache key names the operation.
        var cacheKey = call.Operation is null ? argumentsHash : call.Operation + "\n" + argumentsHash;
        var cacheable = _cache is not null && options.ReadOnly;
        if (cacheable && _cache!.TryGetValue(cacheKey, out ToolOutcome? cached) && cached is not null)
            return new ToolRun(cached, 0, Stopwatch.GetElapsedTime(started), FromCache: true, options.UnitCostUsd);

        var attempts = 0;
        var mayHaveRun = false;
        ToolOutcome outcome;
        try
        {
            outcome = await pipeline.ExecuteAsync(async token =>
            {
                Interlocked.Increment(ref attempts);
                try
                {
                    var attempt = await _tool.ExecuteAsync(call, token);
                    if (attempt.OutcomeUnknown)
                        mayHaveRun = true;
                    return attempt;
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    mayHaveRun = true;
                    throw;
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // The plugin broke after it may have sent something: never assume it did not.
                    mayHaveRun = true;
                    return ToolOutcome.Unknown(ExecutionErrorCodes.ToolError, $"The tool failed unexpectedly: {ex.GetType().Name}.", transient: false);
                }
            }, CancellationToken.None);
        }
        catch (BrokenCircuitException)
        {
            outcome = ToolOutcome.Refusal(ExecutionErrorCodes.CircuitOpen,
                $"Calls to '{_toolName}' are paused: too many recent calls failed. Not attempted.", transient: true);
        }
        catch (TimeoutRejectedException)
        {
            outcome = ToolOutcome.Unknown(ExecutionErrorCodes.Timeout,
                $"No answer within {options.Resilience.AttemptTimeout.TotalSeconds:0.###} s per attempt ({attempts} attempts, {options.Resilience.TotalTimeout.TotalSeconds:0.###} s in all).");
        }
        catch (OperationCanceledException)
        {
            // Cancelled by something other than our timeouts, after an attempt may have been sent.
            outcome = ToolOutcome.Unknown(ExecutionErrorCodes.ToolError, "The call was cancelled before it finished.", transient: false);
        }

        // A later attempt that was refused does not undo an earlier one that may have taken effect.
        if (!outcome.Succeeded && mayHaveRun && !outcome.OutcomeUnknown && outcome.Transient)
            outcome = outcome with { OutcomeUnknown = true };

        if (outcome.Succeeded)
        {
            outcome = outcome with { Result = _redactor.Redact(outcome.Result) };
            if (cacheable)
                _cache!.Set(cacheKey, outcome, new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = _options.CacheTtl });
        }
        return new ToolRun(outcome, attempts, Stopwatch.GetElapsedTime(started), FromCache: false, options.UnitCostUsd);
    }

    /// <summary>The tool's pipeline, outermost first: total timeout, retry, circuit breaker, attempt timeout.</summary>
    public static void Configure(ResiliencePipelineBuilder<ToolOutcome> pipeline, string toolName, ToolOptions tool, TimeProvider? clock = null)
    {
        var resilience = tool.Resilience;
        var retryUnknown = tool.MayRetryUnknownOutcomes;
        if (clock is not null)
            pipeline.TimeProvider = clock;

        pipeline.AddTimeout(resilience.TotalTimeout);
        if (resilience.MaxRetries > 0)
        {
            pipeline.AddRetry(new RetryStrategyOptions<ToolOutcome>
            {
                MaxRetryAttempts = resilience.MaxRetries,
                Delay = resilience.RetryDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome switch
                {
                    { Result: { Succeeded: false, Transient: true } result } => !result.OutcomeUnknown || retryUnknown,
                    { Exception: TimeoutRejectedException } => retryUnknown,
                    _ => false,
                }),
                OnRetry = args =>
                {
                    AgentBusMetrics.ToolRetry(toolName);
                    return ValueTask.CompletedTask;
                },
            });
        }
        pipeline.AddCircuitBreaker(new CircuitBreakerStrategyOptions<ToolOutcome>
        {
            FailureRatio = resilience.BreakerFailureRatio,
            MinimumThroughput = resilience.BreakerMinimumThroughput,
            SamplingDuration = resilience.BreakerSamplingDuration,
            BreakDuration = resilience.BreakerBreakDuration,
            // Only the system's failures open the circuit; a refused request says nothing about its health.
            ShouldHandle = args => ValueTask.FromResult(args.Outcome switch
            {
                { Result: { Succeeded: false, Transient: true } } => true,
                { Exception: TimeoutRejectedException } => true,
                _ => false,
            }),
        });
        pipeline.AddTimeout(resilience.AttemptTimeout);
    }

    public void Dispose() => _cache?.Dispose();
}
