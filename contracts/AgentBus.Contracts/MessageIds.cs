using System.Security.Cryptography;
using System.Text;

namespace AgentBus.Contracts;

/// <summary>
/// The one catalogue of message ids (docs/architecture.md, "Delivery"). An id is derived from what
/// the message is about, so redoing a step after a crash (a redelivered proposal, a retried publish,
/// an outcome published again from its record) emits the same id and idempotent consumers (the
/// audit, the policy service, agents) drop the repeat instead of recording it twice. Every service
/// and the .NET client take their ids from here; an agent in another language reproduces
/// <see cref="For"/> (contracts/README.md).
/// </summary>
public static class MessageIds
{
    /// <summary>RFC 9562 version 8 from SHA-256 of "agentbus\n{step}\n{subject}".</summary>
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

    static string Action(string agentId, string actionId) => $"{agentId}:{actionId}";

    /// <summary>
    /// What one tool's executors say about an action. The tool is part of the id because every
    /// executor may write the outcome exchanges: a report by another tool's executor, naming its own
    /// tool, then has an id of its own and can never take the real outcome's id (and so make the
    /// audit or an agent drop the real one as a repeat). Tool names hold no line breaks.
    /// </summary>
    static string Report(string agentId, string actionId, string tool) => $"{agentId}:{actionId}\n{tool}";

    /// <summary>The decision on a proposal (approval_required included).</summary>
    public static Guid ActionDecided(string agentId, string actionId) => For(Action(agentId, actionId), nameof(Contracts.ActionDecided));

    /// <summary>The final decision that follows an approval_required one.</summary>
    public static Guid FinalDecision(string agentId, string actionId) => For(Action(agentId, actionId), "ActionDecided.final");

    /// <summary>The one signed command for an action, whether allowed at once or after an approval.</summary>
    public static Guid ExecuteTool(string agentId, string actionId) => For(Action(agentId, actionId), nameof(Contracts.ExecuteTool));

    /// <summary>The start of a call, as the audit records it from the outcome.</summary>
    public static Guid ExecutionStarted(string agentId, string actionId, string tool) =>
        For(Report(agentId, actionId, tool), nameof(Contracts.ExecutionStarted));

    /// <summary>The id of an action's one outcome (ActionSucceeded or ActionFailed from the tool).</summary>
    public static Guid ActionOutcome(string agentId, string actionId, string tool) => For(Report(agentId, actionId, tool), "Outcome");

    /// <summary>
    /// The id of the executor's final refusal of a command the policy service signed (suspended,
    /// expired). Never the outcome's id: a consumer that saw the refusal must still record an outcome
    /// published under <see cref="ActionOutcome"/>, were there ever one.
    /// </summary>
    public static Guid ActionRefusal(string agentId, string actionId, string tool) => For(Report(agentId, actionId, tool), "Refused");

    /// <summary>
    /// An operator's resolution of an outcome-unknown action, as the policy service publishes it (an
    /// ActionSucceeded or ActionFailed): never the outcome's id, which the unknown outcome already took.
    /// </summary>
    public static Guid ActionResolution(string agentId, string actionId, string tool) => For(Report(agentId, actionId, tool), "Resolved");

    /// <summary>The operator's resolve request (an OperatorActionTaken "action.resolve"): one per action, whoever runs it, however often.</summary>
    public static Guid ResolveRequest(string actionId) => For(actionId, "action.resolve");

    /// <summary>The approval id (the saga's correlation id): a re-proposed action asks for the same approval.</summary>
    public static Guid Approval(string agentId, string actionId) => For(Action(agentId, actionId), "Approval");

    /// <summary>An agent's report that a run ended: one per run.</summary>
    /// <summary>
    /// The action id of attempt <paramref name="attempt"/> (1, 2, …) at undoing action <paramref name="originalActionId"/>:
    /// derived, so every rollback of a run, from any terminal and after any crash, proposes the same
    /// compensation under the same id and the policy admits it once.
    /// </summary>
    public static Guid Compensation(string originalActionId, int attempt)
    {
        Span<byte> bytes = stackalloc byte[16];
        For($"{originalActionId}\n{attempt}", "Compensation").TryWriteBytes(bytes, bigEndian: true, out _);
        // Rollback's mark: a fixed first 32 bits and the variant bits 111 (RFC 9562: reserved for future
        // definition). No UUID generator makes the variant, and a random 128-bit id carries the whole mark once
        // in 34 billion; the policy refuses marked ids from any other agent, unrecorded, so an agent cannot
        // occupy the id of a future compensation with an action of its own.
        RollbackMark.CopyTo(bytes);
        bytes[8] = (byte)((bytes[8] & 0x1F) | 0xE0);
        return new Guid(bytes, bigEndian: true);
    }

    static ReadOnlySpan<byte> RollbackMark => [0xA0, 0xB0, 0x0D, 0x0E];

    /// <summary>Whether the action id carries rollback's mark (see <see cref="Compensation"/>): only a rollback identity may use it.</summary>
    public static bool IsReservedForRollback(string? actionId)
    {
        if (!Guid.TryParseExact(actionId, "D", out var id))
            return false;
        Span<byte> bytes = stackalloc byte[16];
        id.TryWriteBytes(bytes, bigEndian: true, out _);
        return bytes[..4].SequenceEqual(RollbackMark) && (bytes[8] & 0xE0) == 0xE0;
    }

    public static Guid RunCompleted(string agentId, string runId) => For($"{agentId}:{runId}", nameof(Contracts.RunCompleted));
}
