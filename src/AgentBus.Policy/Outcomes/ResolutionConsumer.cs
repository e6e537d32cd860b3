using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.Policy.Engine;
using AgentBus.Policy.State;
using AgentBus.ServiceDefaults.Messaging;
using MassTransit;

namespace AgentBus.Policy.Outcomes;

/// <summary>
/// An operator's resolution of an outcome-unknown action (`agentbus actions resolve` publishes an
/// "action.resolve" OperatorActionTaken): recorded as the action's outcome, its budget settled, and the
/// resolved outcome published on the outcome exchanges under <see cref="MessageIds.ActionResolution"/>,
/// so the agent and the audit hear it from this service, whose word on outcomes they take. Only the
/// operator broker user's word counts; anything else, or a request that does not validate, is logged
/// and dropped. A repeat (the CLI run again, a redelivery) records nothing and publishes the same
/// outcome under the same id, which its readers drop.
/// </summary>
public sealed class ResolutionConsumer(OutcomeResolutions resolutions, ILogger<ResolutionConsumer> logger) : IConsumer<OperatorActionTaken>
{
    static readonly ResolveRequestValidator Validator = new();

    public async Task Consume(ConsumeContext<OperatorActionTaken> context)
    {
        var message = context.Message;
        if (message.Action != OperatorActionNames.ResolveAction)
            return;
        var sender = context.BrokerUserId();
        if (sender != BrokerIdentity.OperatorUser)
        {
            logger.LogWarning("A resolution of action {ActionId} came from broker user {Sender}, not from the operators; ignored",
                Clip(message.Target), sender ?? "(none)");
            return;
        }
        var request = ResolveRequest.From(message, out var problem);
        var validation = request is null ? null : Validator.Validate(request);
        if (request is null || validation is { IsValid: false })
        {
            logger.LogWarning("A resolution of action {ActionId} was ignored: {Problem}", Clip(message.Target),
                problem ?? string.Join(" ", validation!.Errors.Select(e => e.ErrorMessage)));
            return;
        }

        var resolved = await resolutions.ResolveAsync(request, message.TakenAt, context.CancellationToken);
        switch (resolved.Status)
        {
            case ResolutionResult.Resolved:
                logger.LogInformation("Action {ActionId} resolved by {Operator}: {Outcome}", request.ActionId, request.Operator,
                    request.Succeeded ? "succeeded" : "failed");
                break;
            case ResolutionResult.AlreadyResolved:
                logger.LogDebug("Action {ActionId} was already resolved by {Operator}; its resolution is published again", request.ActionId, resolved.ResolvedBy);
                break;
            default:
                logger.LogWarning("A resolution of action {ActionId} by {Operator} was ignored: {Status}", request.ActionId, request.Operator, resolved.Status);
                return;
        }
        if (resolved.Outcome is { } outcome)
            await PublishAsync(context, outcome, context.CancellationToken);
        // Duplicates of the action heard its unknown outcome too; each copy carries its own action id, hence its own message id.
        foreach (var copy in resolved.Copies ?? [])
            await PublishAsync(context, copy, context.CancellationToken);
    }

    static Task PublishAsync(IPublishEndpoint bus, StoredOutcome outcome, CancellationToken ct)
    {
        switch (outcome.Type)
        {
            case nameof(ActionSucceeded):
                var succeeded = JsonSerializer.Deserialize<ActionSucceeded>(outcome.Payload, WireJson.Options)!;
                return bus.Publish(succeeded, send => send.MessageId = MessageIds.ActionResolution(succeeded.AgentId, succeeded.ActionId, succeeded.Tool), ct);
            case nameof(ActionFailed):
                var failed = JsonSerializer.Deserialize<ActionFailed>(outcome.Payload, WireJson.Options)!;
                return bus.Publish(failed, send => send.MessageId = MessageIds.ActionResolution(failed.AgentId, failed.ActionId, failed.Tool), ct);
            default:
                throw new InvalidOperationException($"Unknown stored outcome type '{outcome.Type}'.");
        }
    }

    static string Clip(string? value) => value is null ? "(none)" : new string(value.Take(80).Select(c => char.IsControl(c) ? '?' : c).ToArray());
}

public sealed class ResolutionConsumerDefinition : ConsumerDefinition<ResolutionConsumer>
{
    public ResolutionConsumerDefinition()
    {
        EndpointName = WireNames.PolicyResolutionsQueue;
        ConcurrentMessageLimit = 4;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpoint, IConsumerConfigurator<ResolutionConsumer> consumer,
        IRegistrationContext context)
    {
        // Bound to agentbus.events.operator-actions under "action.resolve" by `agentbus broker apply`.
        endpoint.ConfigureConsumeTopology = false;
    }
}
