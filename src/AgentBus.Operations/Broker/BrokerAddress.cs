using AgentBus.Contracts;
using RabbitMQ.Client;

namespace AgentBus.Operations.Broker;

/// <summary>
/// Where an operator tool reaches RabbitMQ over AMQP: one host and port, or a cluster's nodes
/// ("host:port,host:port", <see cref="BrokerNodes"/>), of which a connection takes the first that
/// answers: with one node down, suspending an agent or replaying dead letters still works.
/// </summary>
public sealed record BrokerAddress(string Host, int Port, string? Endpoints = null)
{
    public IReadOnlyList<BrokerNode> Nodes => BrokerNodes.ListOrSingle(Endpoints, Host, Port);

    public IReadOnlyList<AmqpTcpEndpoint> AmqpEndpoints => Nodes.Select(n => new AmqpTcpEndpoint(n.Host, n.Port)).ToList();

    public override string ToString() => string.Join(',', Nodes);
}
