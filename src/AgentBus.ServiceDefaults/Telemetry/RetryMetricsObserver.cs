using MassTransit;

namespace AgentBus.ServiceDefaults.Telemetry;

/// <summary>Counts each retry MassTransit's retry filter is about to make (agentbus.retries).</summary>
public sealed class RetryMetricsObserver : IRetryObserver
{
    public Task PostCreate<T>(RetryPolicyContext<T> context) where T : class, PipeContext => Task.CompletedTask;

    public Task PostFault<T>(RetryContext<T> context) where T : class, PipeContext => Task.CompletedTask;

    public Task PreRetry<T>(RetryContext<T> context) where T : class, PipeContext
    {
        var queue = context.Context is ConsumeContext consume && consume.ReceiveContext.InputAddress is { } address
            ? address.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? ""
            : "";
        AgentBusMetrics.Retry(queue, context.Exception.GetType().Name);
        return Task.CompletedTask;
    }

    public Task RetryFault<T>(RetryContext<T> context) where T : class, PipeContext => Task.CompletedTask;

    public Task RetryComplete<T>(RetryContext<T> context) where T : class, PipeContext => Task.CompletedTask;
}
