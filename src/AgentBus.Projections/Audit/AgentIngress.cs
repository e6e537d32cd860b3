using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using AgentBus.Contracts;
using AgentBus.ServiceDefaults.Messaging;
using MassTransit;

namespace AgentBus.Projections.Audit;

/// <summary>
/// What the audit knows about one message an agent published: who RabbitMQ says sent it, its
/// AMQP ids, its bytes, and why it could not be read, if it could not.
/// </summary>
sealed record AgentIngress(string? Sender, string? MessageId, byte[] Body, IngressRejection? Rejection)
{
    public static AgentIngress Of(ConsumeContext item)
    {
        string? messageId = null;
        if (item.TryGetPayload(out RabbitMqBasicConsumeContext? basic) && basic.Properties.IsMessageIdPresent())
            messageId = basic.Properties.MessageId;
        item.ReceiveContext.TryGetPayload(out IngressRejection? rejection);
        return new AgentIngress(item.BrokerUserId(), messageId, item.ReceiveContext.Body.GetBytes(), rejection);
    }

    public string BodyHash => Convert.ToHexStringLower(SHA256.HashData(Body));

    /// <summary>
    /// Namespaced by the validated sender, so no agent can pick ids that suppress another's record;
    /// the same message delivered again gets the same id.
    /// </summary>
    public Guid EventId(string step) => MessageIds.For($"{Sender ?? "(no user_id)"}\n{MessageId ?? ""}\n{BodyHash}", step);

    /// <summary>The body as text when it is UTF-8 without NULs, which PostgreSQL text can hold.</summary>
    public string? BodyText => Utf8.IsValid(Body) && Array.IndexOf(Body, (byte)0) < 0 ? Encoding.UTF8.GetString(Body) : null;

    /// <summary>What the long-lived row says about a body that could not be read (the body itself goes to the raw tier).</summary>
    public string Description(IngressRejection rejection) => JsonSerializer.Serialize(new
    {
        rejected = new { reasonCode = rejection.ReasonCode, detail = rejection.Detail },
        bodyBytes = Body.Length,
        bodySha256 = BodyHash,
    });

    /// <summary>The original bytes, cut at <paramref name="maxBytes"/>.</summary>
    public byte[] Raw(int maxBytes) => Body.Length <= maxBytes ? Body : Body[..maxBytes];
}
