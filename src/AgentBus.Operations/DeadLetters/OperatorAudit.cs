using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.Operations.Audit;
using AgentBus.ServiceDefaults.Messaging;

namespace AgentBus.Operations.DeadLetters;

/// <summary>
/// Records what an operator did as an <see cref="OperatorActionTaken"/> on the operator-actions
/// exchange, which the audit projection consumes. The message id is derived from what was done
/// (the queue, the action and every message with its fault time), so a batch announced twice after a
/// crash becomes one audit row, while a later replay of the same message (after it failed again) is
/// a new one.
/// </summary>
public static class OperatorAudit
{
    public static async Task<Guid> RecordAsync(DeadLetterSession session, string operatorName, string action, string reason,
        IReadOnlyCollection<DeadLetter> messages, object details, TimeProvider clock, CancellationToken ct)
    {
        var subject = $"{session.Queue}\n{action}\n" + string.Join("\n", messages.Select(m => $"{m.Key}@{m.FaultedAt?.ToUnixTimeMilliseconds()}"));
        var messageId = MessageIds.For(subject, nameof(OperatorActionTaken));
        var taken = new OperatorActionTaken(operatorName, action, session.Queue, reason,
            JsonSerializer.SerializeToElement(details, WireJson.Options), clock.GetUtcNow());

        var (properties, body) = OperatorActionPublisher.Message(taken, messageId);
        await session.PublishAsync(WireNames.OperatorActionsExchange, action, properties, body, ct);
        return messageId;
    }
}
