using System.Security.Cryptography;
using System.Text;

namespace AgentBus.ServiceDefaults.Messaging;

/// <summary>
/// Message ids derived from what the message is about, so that redoing a step after a crash
/// (a redelivered proposal, a retried publish) emits the same id and idempotent consumers drop the
/// repeat instead of recording it twice.
/// </summary>
public static class MessageIds
{
    /// <summary>The id of an action's one outcome (ActionSucceeded or ActionFailed from the tool).</summary>
    public static Guid ActionOutcome(string agentId, string actionId) => For($"{agentId}:{actionId}", "Outcome");

    /// <summary>
    /// The id of the executor's final refusal of a command the policy service signed (suspended,
    /// expired). Never the outcome's id: a consumer that saw the refusal must still record an outcome
    /// published under <see cref="ActionOutcome"/>, were there ever one.
    /// </summary>
    public static Guid ActionRefusal(string agentId, string actionId) => For($"{agentId}:{actionId}", "Refused");

    public static Guid For(string subject, string step)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes($"agentbus\n{step}\n{subject}"), hash);
        var bytes = hash[..16];
        // RFC 9562 version 8 (custom) with the RFC 4122 variant, so the value is a well-formed UUID.
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x80);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes, bigEndian: true);
    }
}
