using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.Policy.State;
using AgentBus.ServiceDefaults.Messaging;
using MassTransit;

namespace AgentBus.Policy.Proposals;

/// <summary>
/// A duplicate proposal gets the first action's outcome: the same result, re-addressed to the
/// duplicate's action id, with no cost, no attempts and no executor or start (nothing ran for it,
/// so the audit records no start for it). Message ids are
/// derived from the duplicate, so a redelivery repeats them and consumers drop the repeat.
/// </summary>
static class OutcomeCopies
{
    public static Task PublishAsync(IPublishEndpoint bus, StoredOutcome outcome, string actionId, string agentId, string runId, CancellationToken ct)
    {
        switch (outcome.Type)
        {
            case nameof(ActionSucceeded):
                var succeeded = JsonSerializer.Deserialize<ActionSucceeded>(outcome.Payload, WireJson.Options)!;
                return bus.Publish(succeeded with
                    {
                        ActionId = actionId, RunId = runId, AgentId = agentId, CostUsd = 0, Attempts = 0, DurationMs = 0, Executor = null, StartedAt = null,
                    },
                    send => send.MessageId = MessageIds.ActionOutcome(agentId, actionId, succeeded.Tool), ct);
            case nameof(ActionFailed):
                var failed = JsonSerializer.Deserialize<ActionFailed>(outcome.Payload, WireJson.Options)!;
                return bus.Publish(failed with
                    {
                        ActionId = actionId, RunId = runId, AgentId = agentId, Attempts = 0, DurationMs = 0, Executor = null, StartedAt = null,
                    },
                    send => send.MessageId = IdOf(failed, agentId, actionId), ct);
            default:
                throw new InvalidOperationException($"Unknown stored outcome type '{outcome.Type}'.");
        }
    }

    /// <summary>The outcome as the executor published it, again (same message id), for a re-sent proposal.</summary>
    public static Task RepublishAsync(IPublishEndpoint bus, StoredOutcome outcome, string actionId, string agentId, CancellationToken ct)
    {
        switch (outcome.Type)
        {
            case nameof(ActionSucceeded):
                var succeeded = JsonSerializer.Deserialize<ActionSucceeded>(outcome.Payload, WireJson.Options)!;
                return bus.Publish(succeeded, send => send.MessageId = MessageIds.ActionOutcome(agentId, actionId, succeeded.Tool), ct);
            case nameof(ActionFailed):
                var failed = JsonSerializer.Deserialize<ActionFailed>(outcome.Payload, WireJson.Options)!;
                return bus.Publish(failed, send => send.MessageId = IdOf(failed, agentId, actionId), ct);
            default:
                throw new InvalidOperationException($"Unknown stored outcome type '{outcome.Type}'.");
        }
    }

    /// <summary>A refusal is published under the refusal's id, never the outcome's (see MessageIds.ActionRefusal).</summary>
    static Guid IdOf(ActionFailed failed, string agentId, string actionId) =>
        failed.Refused ? MessageIds.ActionRefusal(agentId, actionId, failed.Tool) : MessageIds.ActionOutcome(agentId, actionId, failed.Tool);
}
