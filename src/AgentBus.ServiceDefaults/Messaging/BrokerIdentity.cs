using System.Text;
using AgentBus.Contracts;
using MassTransit;
using RabbitMQ.Client;

namespace AgentBus.ServiceDefaults.Messaging;

public static class BrokerIdentity
{
    /// <summary>Where a message moved to an error or skipped queue keeps the identity RabbitMQ validated.</summary>
    public const string OriginalUserIdHeader = "AgentBus-Broker-User-Id";

    /// <summary>
    /// The operators' broker user. Only operators hold its password, and its only write rights are
    /// the replay exchange and the operator-actions exchange (`agentbus broker apply`).
    /// </summary>
    public const string OperatorUser = "agentbus-operator";

    /// <summary>The policy service's broker user: the only one that may write commands.</summary>
    public const string PolicyUser = BrokerUsers.Policy;

    /// <summary>The broker user of one tool's executors: the only one whose outcomes count for that tool's actions.</summary>
    public static string ExecutorUser(string tool) => BrokerUsers.Executor(tool);

    /// <summary>
    /// Sets the AMQP user_id of everything this bus publishes or sends to its own login, which RabbitMQ
    /// checks, so consumers can tell which service a message really came from.
    /// </summary>
    public static void Stamp(SendContext context, string username)
    {
        if (context.TryGetPayload(out RabbitMqSendContext? rabbit))
            rabbit.BasicProperties.UserId = username;
    }

    /// <summary>
    /// Who sent the message, as far as the broker can vouch for it: the AMQP user_id property, which
    /// RabbitMQ checks against the publishing connection's user, so an agent cannot forge it. Null when
    /// the publisher did not set it.
    /// </summary>
    public static string? BrokerUserId(this ConsumeContext context) =>
        context.TryGetPayload(out RabbitMqBasicConsumeContext? basic) ? Sender(basic.Properties, basic.Exchange) : null;

    /// <summary>
    /// The validated sender of a delivery. A dead letter an operator replayed arrives with the
    /// operator's user_id through <see cref="WireNames.ReplayExchange"/>; only then is the identity
    /// kept in <see cref="OriginalUserIdHeader"/> (written when the message was dead-lettered) taken
    /// as the sender. Anyone else setting that header gains nothing: their own user_id is what counts.
    /// </summary>
    public static string? Sender(IReadOnlyBasicProperties properties, string? exchange)
    {
        if (!properties.IsUserIdPresent() || string.IsNullOrEmpty(properties.UserId))
            return null;
        if (properties.UserId == OperatorUser && exchange == WireNames.ReplayExchange)
            return HeaderText(properties, OriginalUserIdHeader);
        return properties.UserId;
    }

    /// <summary>A header as text; RabbitMQ.Client hands AMQP strings over as UTF-8 bytes.</summary>
    public static string? HeaderText(IReadOnlyBasicProperties properties, string name)
    {
        if (properties.Headers is not { } headers || !headers.TryGetValue(name, out var value))
            return null;
        var text = value switch
        {
            byte[] bytes => Encoding.UTF8.GetString(bytes),
            null => null,
            _ => value.ToString(),
        };
        return string.IsNullOrEmpty(text) ? null : text;
    }
}
