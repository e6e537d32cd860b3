using MassTransit;

namespace AgentBus.ServiceDefaults.Messaging;

public static class AgentIngressEndpoint
{
    /// <summary>
    /// Makes a receive endpoint safe for messages written by agents in any language: read as plain
    /// JSON whatever the content type, bad bodies turned into rejections. (Faulted messages are moved
    /// to the error queue without the agent's user_id on every endpoint: see
    /// <see cref="MoveWithoutBrokerUserId"/>.) The binding from the agents' exchange is provisioned by
    /// `agentbus broker apply`.
    /// </summary>
    public static void ConfigureAgentIngress<T>(this IReceiveEndpointConfigurator endpoint, int maxBodyBytes)
        where T : class
    {
        endpoint.ConfigureConsumeTopology = false;
        endpoint.ClearSerialization();
        endpoint.AddSerializer(new AgentMessageSerializerFactory<T>(maxBodyBytes));
        endpoint.AddDeserializer(new AgentMessageSerializerFactory<T>(maxBodyBytes), isDefault: true);
    }
}
