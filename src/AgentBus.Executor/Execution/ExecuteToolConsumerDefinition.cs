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
        if (endpoint is IRabbitMqReceiveEndpointConfigurator rabbit)
        {
            rabbit.PrefetchCount = _tool.PrefetchCount;
            // The queue and its bindings are provisioned by `agentbus broker apply`. Not binding it here
            // means the executor needs no write right on its own queue's name, so it cannot publish
            // into the exchange of that name and hand itself a command.
            rabbit.BindQueue = false;
        }
    }
}
