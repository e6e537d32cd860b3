using AgentBus.Contracts;
using AgentBus.Executor.Tools;
using MassTransit;
using Microsoft.Extensions.Options;

namespace AgentBus.Executor.Execution;

/// <summary>The endpoint is the tool's own queue; copies of this executor compete on it.</summary>
public sealed class ExecuteToolConsumerDefinition : ConsumerDefinition<ExecuteToolConsumer>
{
    readonly ToolOptions _tool;

    public ExecuteToolConsumerDefinition(IOptions<ExecutorOptions> executor, IOptions<ToolOptions> tool)
    {
        _tool = tool.Value;
        EndpointName = WireNames.ToolQueue(executor.Value.Tool);
        ConcurrentMessageLimit = _tool.ConcurrentMessageLimit;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpoint,
        IConsumerConfigurator<ExecuteToolConsumer> consumer, IRegistrationContext context)
    {
        endpoint.ConfigureConsumeTopology = false;
        endpoint.UseFilter(new SuspensionFilter(context));
        if (endpoint is IRabbitMqReceiveEndpointConfigurator rabbit)
            rabbit.PrefetchCount = _tool.PrefetchCount;
    }
}
