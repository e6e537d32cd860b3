using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.Executor.Tools;
using AgentBus.ServiceDefaults.Messaging;
using AgentBus.ServiceDefaults.Security;
using AgentBus.ServiceDefaults.Telemetry;
using MassTransit;
using Microsoft.Extensions.Options;
using Npgsql;
using Polly;
using Polly.Retry;

namespace AgentBus.Executor.Execution;

/// <summary>This copy's name in claims and in the outcomes it publishes (their <c>executor</c>).</summary>
public sealed record ExecutorInstance(string Name);

/// <summary>A command too broken to answer (no action, run, agent or tool): it goes to the error queue with this fault.</summary>
public sealed class InvalidCommandException(string message) : Exception(message);

/// <summary>
/// Runs one ExecuteTool at most once. In order: the signature must verify before anything else is
/// looked at (else an unclaimed refusal, audited); then the claim, in one statement with the kill
/// switch: a new claim runs; an existing claim is answered from its record (or a copy that died
/// mid-call is declared outcome-unknown); a suspension, or an authorization that expired before any
/// copy claimed the action, is refused finally on the claim, so the same command can never run
/// later. A run calls the tool through its resilience pipeline, records the outcome on the claim,
/// conditionally, and then publishes it (with who started it, and when) under the action's outcome id.
/// </summary>
public sealed class ExecuteToolConsumer(
    AuthorizationVerifier verifier,
    ClaimStore claims,
    ClaimHeartbeat heartbeat,
    ToolRunner runner,
    ExecutorInstance instance,
    IOptions<ExecutorOptions> executorOptions,
    IOptions<ToolOptions> toolOptions,
    IOptions<RabbitMqOptions> rabbitOptions,
    TimeProvider clock,
    ILogger<ExecuteToolConsumer> logger) : IConsumer<ExecuteTool>
{
    static readonly ResiliencePipeline DatabaseRetry = new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions
        {
            MaxRetryAttempts = 5,
            Delay = TimeSpan.FromMilliseconds(200),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            ShouldHandle = new PredicateBuilder().Handle<NpgsqlException>(ex => ex.IsTransient).Handle<TimeoutException>(),
        })
        .Build();

    readonly ExecutorOptions _executor = executorOptions.Value;
    readonly ToolOptions _tool = toolOptions.Value;

    public async Task Consume(ConsumeContext<ExecuteTool> context)
    {
        var command = context.Message;
        EnsureAddressable(command);
        AgentBusTelemetry.TagAction(command.ActionId, command.RunId);

        var problem = verifier.Check(command, _executor.Tool, clock.GetUtcNow());
        if (problem is not null && problem.ErrorCode != ExecutionErrorCodes.AuthorizationExpired)
        {
            logger.LogWarning("Refused a command for action {ActionId} of agent {AgentId} that the policy service did not sign as delivered: {ErrorCode} ({Reason})",
                command.ActionId, command.AgentId, problem.ErrorCode, problem.Reason);
            await RefuseUnclaimedAsync(context, problem.ErrorCode, problem.Reason);
            return;
        }

        // Expiry is checked only once the signature held, so this command is the policy service's own.
        if (problem is not null)
        {
            await RefuseFinallyAsync(context, problem.ErrorCode, problem.Reason);
            return;
        }

        var token = Guid.NewGuid();
        var attempt = await claims.TryClaimAsync(command, instance.Name, token, _executor.ClaimLease, CancellationToken.None);
        if (attempt.IsOwned)
            await ExecuteAsync(context, token);
        else if (attempt.Existing is { } existing)
            await ResumeAsync(context, existing);
        else
        {
            var (code, reason) = ExecutionRefusal.ForSuspension(command, attempt.Suspended);
            await RefuseFinallyAsync(context, code, reason);
        }
    }

    /// <summary>Fields every answer needs; without them the command cannot even be refused.</summary>
    public static void EnsureAddressable(ExecuteTool command)
    {
        if (string.IsNullOrEmpty(command.ActionId) || string.IsNullOrEmpty(command.RunId) || string.IsNullOrEmpty(command.AgentId)
            || string.IsNullOrEmpty(command.Tool) || string.IsNullOrEmpty(command.ArgumentsHash))
            throw new InvalidCommandException("The ExecuteTool lacks actionId, runId, agentId, tool or argumentsHash; it cannot be answered.");
    }

    async Task RefuseUnclaimedAsync(ConsumeContext<ExecuteTool> context, string errorCode, string reason)
    {
        using var timeout = PublishTimeout();
        await ExecutionRefusal.PublishUnclaimedAsync(context, errorCode, reason, clock.GetUtcNow(), timeout.Token);
    }

    /// <summary>A signed command that may not run: the refusal becomes the action's final record, unless it was claimed before.</summary>
    async Task RefuseFinallyAsync(ConsumeContext<ExecuteTool> context, string errorCode, string reason)
    {
        var command = context.Message;
        var refusal = ExecutionRefusal.Final(command, errorCode, reason, clock.GetUtcNow());
        var existing = await DatabaseRetry.ExecuteAsync(
            async ct => await claims.RefuseAsync(command, instance.Name, refusal, _executor.ClaimLease, ct), CancellationToken.None);
        if (existing is not null)
        {
            await ResumeAsync(context, existing);
            return;
        }

        logger.LogWarning("Refused action {ActionId} of agent {AgentId} on {Tool} for good: {ErrorCode} ({Reason})",
            command.ActionId, command.AgentId, command.Tool, errorCode, reason);
        await PublishRecordedAsync(context, refusal);
        AgentBusMetrics.ToolCall(command.Tool, command.AgentId, "refused");
    }

    async Task ExecuteAsync(ConsumeContext<ExecuteTool> context, Guid token)
    {
        var command = context.Message;
        heartbeat.Add(token);
        RecordedOutcome recorded;
        try
        {
            // The claim row, committed before this, records the start; the outcome carries it to the
            // audit, so the call waits for no message of its own.
            var startedAt = clock.GetUtcNow();
            var run = await runner.RunAsync(new ToolCall(command.ActionId, command.RunId, command.AgentId, command.Arguments,
                command.IdempotencyKey ?? command.ActionId, command.Operation), command.ArgumentsHash);
            recorded = Record(command, run, startedAt);
            Log(command, run);

            bool won;
            try
            {
                won = await DatabaseRetry.ExecuteAsync(
                    async ct => await claims.FinishAsync(command.ActionId, token, recorded, ct), CancellationToken.None);
            }
            catch (Exception ex)
            {
                logger.LogError(ex, "Action {ActionId} ran ({State}, external reference {ExternalReference}) but its outcome could not be recorded; " +
                                    "it will be reported outcome-unknown", command.ActionId, recorded.State, run.Outcome.ExternalReference);
                throw;
            }

            if (!won)
            {
                // Another copy declared this action outcome-unknown while this one was still calling (its
                // heartbeats did not reach the database). That answer stands; the operator sees this one too.
                logger.LogWarning("Action {ActionId} finished ({State}) after another copy had declared its outcome unknown; " +
                                  "kept as late_outcome for reconciliation", command.ActionId, recorded.State);
                await claims.RecordLateOutcomeAsync(command.ActionId, token, recorded.Json, CancellationToken.None);
                return;
            }
        }
        finally
        {
            heartbeat.Remove(token);
        }

        await PublishRecordedAsync(context, recorded);
    }

    /// <summary>The action was claimed before: answer from the claim, never call the tool again.</summary>
    async Task ResumeAsync(ConsumeContext<ExecuteTool> context, ExistingClaim claim)
    {
        var command = context.Message;
        if (claim.AgentId != command.AgentId || claim.Tool != command.Tool || claim.ArgumentsHash != command.ArgumentsHash)
        {
            logger.LogWarning("Refused action {ActionId}: the id was already used for another command", command.ActionId);
            await RefuseUnclaimedAsync(context, ExecutionErrorCodes.ActionIdReused,
                "This action id was already executed for another agent, tool or arguments; use a new action id.");
            return;
        }

        var waitUntil = DateTime.UtcNow + _tool.Resilience.TotalTimeout + 2 * _executor.ClaimLease + TimeSpan.FromSeconds(30);
        var poll = TimeSpan.FromMilliseconds(Math.Clamp(_executor.ClaimLease.TotalMilliseconds / 4, 50, 1000));
        while (true)
        {
            if (claim.State != ClaimState.Running)
            {
                logger.LogInformation("Action {ActionId} was already {State} by {Executor}; publishing its outcome again",
                    command.ActionId, claim.State, claim.Executor);
                await PublishRecordedAsync(context, Recorded(claim));
                AgentBusMetrics.ToolCall(command.Tool, command.AgentId, "repeated");
                return;
            }

            if (claim.HeartbeatStale)
            {
                var lost = Lost(command, claim);
                if (await claims.DeclareUnknownAsync(command.ActionId, claim.ClaimToken, _executor.ClaimLease, lost, CancellationToken.None))
                {
                    logger.LogError("Action {ActionId}: copy {Executor} stopped while calling the tool; outcome unknown, not retried",
                        command.ActionId, claim.Executor);
                    await PublishRecordedAsync(context, lost);
                    AgentBusMetrics.ToolCall(command.Tool, command.AgentId, "outcome_unknown");
                    return;
                }
            }
            else if (DateTime.UtcNow > waitUntil)
                throw new InvalidOperationException(
                    $"Action {command.ActionId} is still being run by {claim.Executor}, whose claim stays fresh; retrying later.");
            else
                await Task.Delay(poll);

            claim = await claims.GetAsync(command.ActionId, _executor.ClaimLease, CancellationToken.None)
                    ?? throw new InvalidOperationException($"The claim on action {command.ActionId} disappeared; retrying.");
        }
    }

    RecordedOutcome Record(ExecuteTool command, ToolRun run, DateTimeOffset startedAt)
    {
        var messageId = MessageIds.ActionOutcome(command.AgentId, command.ActionId, command.Tool);
        var outcome = run.Outcome;
        var durationMs = (long)run.Duration.TotalMilliseconds;
        if (outcome.Succeeded)
        {
            var visible = ResultMasker.Mask(outcome.Result, outcome.ExternalReference, command.ResultClearance);
            if (visible.Masked.Count > 0)
            {
                logger.LogInformation("Action {ActionId} of agent {AgentId}: masked {Masked} in the result (not in its receives)",
                    command.ActionId, command.AgentId, string.Join(", ", visible.Masked.Select(m => m.Class).Distinct()));
                foreach (var dataClass in visible.Masked.Select(m => m.Class).Distinct())
                    AgentBusMetrics.ResultMasked(command.Tool, command.AgentId, dataClass);
            }
            var succeeded = new ActionSucceeded(command.ActionId, command.RunId, command.AgentId, command.Tool, visible.Result,
                visible.ExternalReference, run.CostUsd, durationMs, run.Attempts, clock.GetUtcNow(),
                instance.Name, startedAt, Masked: visible.Masked.Count > 0 ? visible.Masked : null);
            return new RecordedOutcome(ClaimState.Succeeded, run.Attempts, nameof(ActionSucceeded), messageId,
                JsonSerializer.Serialize(succeeded, WireJson.Options));
        }

        var failed = new ActionFailed(command.ActionId, command.RunId, command.AgentId, command.Tool,
            outcome.ErrorCode ?? "failed", outcome.Error ?? "The tool failed.", outcome.OutcomeUnknown, durationMs, run.Attempts, clock.GetUtcNow(),
            outcome.Refused, instance.Name, startedAt);
        return new RecordedOutcome(outcome.OutcomeUnknown ? ClaimState.OutcomeUnknown : ClaimState.Failed, run.Attempts, nameof(ActionFailed),
            messageId, JsonSerializer.Serialize(failed, WireJson.Options));
    }

    RecordedOutcome Lost(ExecuteTool command, ExistingClaim claim)
    {
        var failed = new ActionFailed(command.ActionId, command.RunId, command.AgentId, command.Tool, ExecutionErrorCodes.ExecutorLost,
            $"The executor copy '{claim.Executor}' stopped while calling the tool; whether the call took effect is unknown. " +
            "It is not retried: an operator must reconcile it.", OutcomeUnknown: true, claim.ElapsedMs, Attempts: 1, clock.GetUtcNow(),
            Executor: claim.Executor, StartedAt: clock.GetUtcNow() - TimeSpan.FromMilliseconds(claim.ElapsedMs));
        return new RecordedOutcome(ClaimState.OutcomeUnknown, 1, nameof(ActionFailed), MessageIds.ActionOutcome(command.AgentId, command.ActionId, command.Tool),
            JsonSerializer.Serialize(failed, WireJson.Options));
    }

    static RecordedOutcome Recorded(ExistingClaim claim) =>
        new(claim.State, 0, claim.OutcomeType ?? throw new InvalidOperationException($"Action {claim.ActionId} is finished without an outcome."),
            claim.OutcomeMessageId ?? throw new InvalidOperationException($"Action {claim.ActionId} has no outcome message id."),
            claim.Outcome ?? throw new InvalidOperationException($"Action {claim.ActionId} has no recorded outcome."));

    async Task PublishRecordedAsync(ConsumeContext context, RecordedOutcome recorded)
    {
        using var timeout = PublishTimeout();
        switch (recorded.Type)
        {
            case nameof(ActionSucceeded):
                await context.Publish(JsonSerializer.Deserialize<ActionSucceeded>(recorded.Json, WireJson.Options)!,
                    send => send.MessageId = recorded.MessageId, timeout.Token);
                break;
            case nameof(ActionFailed):
                await context.Publish(JsonSerializer.Deserialize<ActionFailed>(recorded.Json, WireJson.Options)!,
                    send => send.MessageId = recorded.MessageId, timeout.Token);
                break;
            default:
                throw new InvalidOperationException($"Unknown recorded outcome type '{recorded.Type}'.");
        }
    }

    void Log(ExecuteTool command, ToolRun run)
    {
        var outcome = run.Outcome;
        var label = run.FromCache ? "cached" : outcome.Succeeded ? "succeeded" : outcome.OutcomeUnknown ? "outcome_unknown" : "failed";
        AgentBusMetrics.ToolCall(command.Tool, command.AgentId, label, run.Duration,
            run.CostUsd);
        if (outcome.Succeeded)
            logger.LogInformation("Action {ActionId} on {Tool}: {Result} in {ElapsedMs:0} ms, {Attempts} attempts, reference {ExternalReference}",
                command.ActionId, command.Tool, label, run.Duration.TotalMilliseconds, run.Attempts, outcome.ExternalReference);
        else
            logger.LogWarning("Action {ActionId} on {Tool}: {Result} {ErrorCode} in {ElapsedMs:0} ms, {Attempts} attempts: {Error}",
                command.ActionId, command.Tool, label, outcome.ErrorCode, run.Duration.TotalMilliseconds, run.Attempts, outcome.Error);
    }

    CancellationTokenSource PublishTimeout() => new(rabbitOptions.Value.PublishTimeout);
}
