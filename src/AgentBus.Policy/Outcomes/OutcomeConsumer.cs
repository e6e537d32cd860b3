using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.Policy.Proposals;
using AgentBus.Policy.State;
using AgentBus.ServiceDefaults.Messaging;
using MassTransit;
using Microsoft.Extensions.Options;

namespace AgentBus.Policy.Outcomes;

/// <summary>
/// Settles budgets from what executors report: the reservation becomes the actual cost, or is
/// released when the tool certainly did not run. Duplicates that were waiting for this outcome
/// get their copy. A refusal of a command this service did not sign settles nothing: the action it
/// names may still be running from the genuine command. An outcome counts only when RabbitMQ vouches
/// that it came from the executors of the tool it names (or from this service, for a duplicate's
/// copy), and only for an action of that tool: a foothold in one executor cannot release or settle
/// another tool's actions.
/// </summary>
public sealed class OutcomeConsumer(CostLedger ledger, IOptions<RabbitMqOptions> rabbit, ILogger<OutcomeConsumer> logger) :
    IConsumer<ActionSucceeded>,
    IConsumer<ActionFailed>
{
    public Task Consume(ConsumeContext<ActionSucceeded> context) =>
        Record(context, context.Message.ActionId, context.Message.AgentId, context.Message.Tool, "succeeded", nameof(ActionSucceeded),
            JsonSerializer.Serialize(context.Message, WireJson.Options), context.Message.CostUsd);

    public Task Consume(ConsumeContext<ActionFailed> context) =>
        ExecutionErrorCodes.EndsNoAction(context.Message)
            ? Task.CompletedTask
            : Record(context, context.Message.ActionId, context.Message.AgentId, context.Message.Tool,
                context.Message.OutcomeUnknown ? "outcome_unknown" : "failed", nameof(ActionFailed),
                JsonSerializer.Serialize(context.Message, WireJson.Options), null);

    async Task Record(ConsumeContext context, string actionId, string agentId, string tool, string outcome, string type, string payload,
        decimal? cost)
    {
        var sender = context.BrokerUserId();
        if (!BrokerUsers.MayReportOutcome(tool, sender, rabbit.Value.Username))
        {
            logger.LogWarning("An {Type} for action {ActionId} of tool {Tool} came from broker user {Sender}, not from that tool's executors; ignored",
                type, actionId, tool, sender ?? "(none)");
            return;
        }

        var settled = await ledger.RecordOutcomeAsync(actionId, tool, outcome, type, payload, cost, context.CancellationToken);
        if (settled.Recorded)
            logger.LogDebug("Outcome of action {ActionId} ({AgentId}): {Outcome}", actionId, agentId, outcome);
        // A replay of this action came before its outcome was recorded here: the agent gets it again, under
        // the outcome's own message id, so the audit and agents recognise the repeat.
        if (settled.ReplayWaits)
            await OutcomeCopies.RepublishAsync(context, new StoredOutcome(type, payload), actionId, agentId, context.CancellationToken);
        foreach (var (duplicateId, duplicateAgent, duplicateRun) in settled.WaitingDuplicates)
            await OutcomeCopies.PublishAsync(context, new StoredOutcome(type, payload), duplicateId, duplicateAgent, duplicateRun, context.CancellationToken);
    }
}

public sealed class OutcomeConsumerDefinition : ConsumerDefinition<OutcomeConsumer>
{
    public OutcomeConsumerDefinition()
    {
        EndpointName = WireNames.PolicyOutcomesQueue;
        ConcurrentMessageLimit = 16;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpoint,
        IConsumerConfigurator<OutcomeConsumer> consumer, IRegistrationContext context)
    {
        // Bound to the outcome exchanges by `agentbus broker apply`.
        endpoint.ConfigureConsumeTopology = false;
        if (endpoint is IRabbitMqReceiveEndpointConfigurator rabbit)
            rabbit.PrefetchCount = 32;
    }
}
