using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.Policy.State;
using AgentBus.ServiceDefaults.Messaging;
using MassTransit;

namespace AgentBus.Policy.Proposals;

/// <summary>
/// A duplicate proposal gets the first action's outcome: the same result, re-addressed to the
/// duplicate's action id, with no cost and no attempts (nothing ran for it). Message ids are
/// derived from the duplicate, so a redelivery repeats them and consumers drop the repeat.
/// </summary>
static class OutcomeCopies
{
    public static Task PublishAsync(IPublishEndpoint bus, StoredOutcome outcome, string actionId, string agentId, string runId, CancellationToken ct)
    {
        var messageId = MessageIds.For($"{agentId}:{actionId}", "Outcome");
        switch (outcome.Type)
        {
            case nameof(ActionSucceeded):
                var succeeded = JsonSerializer.Deserialize<ActionSucceeded>(outcome.Payload, WireJson.Options)!;
                return bus.Publish(succeeded with { ActionId = actionId, RunId = runId, AgentId = agentId, CostUsd = 0, Attempts = 0, DurationMs = 0 },
                    send => send.MessageId = messageId, ct);
            case nameof(ActionFailed):
                var failed = JsonSerializer.Deserialize<ActionFailed>(outcome.Payload, WireJson.Options)!;
                return bus.Publish(failed with { ActionId = actionId, RunId = runId, AgentId = agentId, Attempts = 0, DurationMs = 0 },
                    send => send.MessageId = messageId, ct);
            default:
                throw new InvalidOperationException($"Unknown stored outcome type '{outcome.Type}'.");
        }
    }

    /// <summary>The outcome as the executor published it, again (same message id), for a re-sent proposal.</summary>
    public static Task RepublishAsync(IPublishEndpoint bus, StoredOutcome outcome, string actionId, string agentId, CancellationToken ct)
    {
        var messageId = MessageIds.For($"{agentId}:{actionId}", "Outcome");
        return outcome.Type switch
        {
            nameof(ActionSucceeded) => bus.Publish(JsonSerializer.Deserialize<ActionSucceeded>(outcome.Payload, WireJson.Options)!,
                send => send.MessageId = messageId, ct),
            nameof(ActionFailed) => bus.Publish(JsonSerializer.Deserialize<ActionFailed>(outcome.Payload, WireJson.Options)!,
                send => send.MessageId = messageId, ct),
            _ => throw new InvalidOperationException($"Unknown stored outcome type '{outcome.Type}'."),
        };
    }
}
