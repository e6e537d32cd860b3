using System.CommandLine;
using System.Text.Json;
using AgentBus.Operations.Audit;
using AgentBus.Operations.Broker;
using AgentBus.Contracts;
using AgentBus.Policy.Engine;
using Dapper;
using Npgsql;
using Spectre.Console;

namespace AgentBus.Cli.Commands;

/// <summary>An operator's finding as `agentbus actions resolve` recorded it (and prints with --json).</summary>
sealed record Resolution(
    string ActionId,
    string Outcome,
    string ResolvedBy,
    string Evidence,
    DateTimeOffset ResolvedAt,
    JsonElement? Result,
    string? ExternalReference,
    bool RecordedByPolicy);

/// <summary>
/// `agentbus actions resolve ACTION_ID --succeeded|--failed --evidence TEXT`: records what a person found
/// in the system of record for an outcome-unknown action. The finding is written once (a row in
/// execution_resolutions, under the claim's lock, so two terminals cannot both resolve it), then
/// published as an "action.resolve" OperatorActionTaken from the operator broker user, which the audit
/// records with the operator and the evidence and the policy service turns into the action's outcome
/// (budget settled, agent told). The message is rebuilt from the row, so running the command again
/// after it was interrupted publishes the same message under the same id.
/// </summary>
static class ResolveCommand
{
    public static Command Create()
    {
        var actionId = new Argument<string>("ACTION_ID") { Description = "The action, as `agentbus actions unknown` lists it" };
        var succeeded = new Option<bool>("--succeeded") { Description = "The system of record shows the action happened" };
        var failed = new Option<bool>("--failed") { Description = "The system of record shows it did not happen" };
        var evidence = new Option<string?>("--evidence")
        {
            Description = $"What you found, and where (required; at most {ResolveRequestValidator.MaxEvidenceLength} characters; recorded in the audit)",
        };
        var resultOption = new Option<string?>("--result")
        {
            Description = "With --succeeded: the result the system of record shows, a JSON object (for an HTTP operation " +
                          "{\"status\": 200, \"body\": {...}}). Default: what an executor copy learned later, if any",
        };
        var externalReference = new Option<string?>("--external-reference") { Description = "The record's id in the system of record" };
        var operatorName = new Option<string>("--operator")
        {
            Description = "Who is doing this (default: $AGENTBUS_OPERATOR or the login name)",
            DefaultValueFactory = _ => Cli.Env("AGENTBUS_OPERATOR") ?? Environment.UserName,
        };
        var wait = new Option<int>("--wait")
        {
            Description = "Seconds to wait for the policy service to record it (default 10; 0: do not wait)",
            DefaultValueFactory = _ => 10,
        };
        var json = AuditCli.AsJson();
        var postgres = Cli.Postgres();
        var broker = new BrokerAddressOptions();
        var vhost = Cli.VirtualHost();
        var secrets = Cli.SecretsDirectory();
        var command = new Command("resolve",
            "Record what the system of record shows for an outcome-unknown action: audited with who and why; the policy service " +
            "settles its cost and tells the agent; a succeeded one can then be rolled back.")
        {
            actionId, succeeded, failed, evidence, resultOption, externalReference, operatorName, wait, json, postgres, broker.Host, broker.Port, broker.Endpoints, vhost, secrets,
        };
        command.SetAction((result, ct) => Cli.Run(async () =>
        {
            var (isSucceeded, isFailed) = (result.GetValue(succeeded), result.GetValue(failed));
            if (isSucceeded == isFailed)
                throw new UsageException("Say which: --succeeded (the system of record shows the action happened) or --failed (it did not).");
            if (result.GetValue(wait) is < 0 or > 600)
                throw new UsageException("--wait is a number of seconds from 0 to 600.");
            var parsedResult = ParseResult(result.GetValue(resultOption), isSucceeded);
            var request = new ResolveRequest(result.GetValue(operatorName) ?? "", result.GetValue(actionId) ?? "", isSucceeded,
                result.GetValue(evidence) ?? "", parsedResult, result.GetValue(externalReference));
            var validation = new ResolveRequestValidator().Validate(request);
            if (!validation.IsValid)
                throw new UsageException(string.Join(" ", validation.Errors.Select(e => e.ErrorMessage.Replace("'operator'", "--operator")
                    .Replace("'evidence'", "--evidence").Replace("'result'", "--result").Replace("'externalReference'", "--external-reference")
                    .Replace("'actionId'", "ACTION_ID"))));

            await using var dataSource = AuditCli.DataSource(Cli.Required(result, postgres, "the AgentBus database (its owner's connection)"));
            var recorded = await RecordAsync(dataSource, request, ct);
            var resolution = recorded.Resolution;
            if (recorded.Earlier && !Same(resolution, request))
            {
                // Someone else's finding stands. If the policy service never got it (the first run was
                // interrupted), it is sent again; this request is refused either way.
                if (!resolution.RecordedByPolicy)
                    await PublishAsync(result, broker, vhost, secrets, resolution, ct);
                Cli.Error($"Action {request.ActionId} was already resolved by {resolution.ResolvedBy} at {AuditCli.When(resolution.ResolvedAt)} UTC: " +
                          $"{resolution.Outcome} ({resolution.Evidence}). Nothing was changed.");
                return Cli.Failed;
            }
            if (recorded.Earlier && resolution.RecordedByPolicy)
            {
                Cli.Error($"Action {request.ActionId} was already resolved by {resolution.ResolvedBy} at {AuditCli.When(resolution.ResolvedAt)} UTC: " +
                          $"{resolution.Outcome} ({resolution.Evidence}), and the policy service has recorded it. Nothing to do.");
                return Cli.Failed;
            }

            try
            {
                await PublishAsync(result, broker, vhost, secrets, resolution, ct);
            }
            catch (Exception ex) when (ex is RabbitMQ.Client.Exceptions.BrokerUnreachableException
                                           or RabbitMQ.Client.Exceptions.OperationInterruptedException
                                           or OperationCanceledException or IOException or TimeoutException)
            {
                Cli.Error($"The resolution is recorded, but it could not be sent to the policy service ({ex.GetBaseException().Message}); " +
                          "run the same command again to send it.");
                return Cli.Failed;
            }

            var byPolicy = await WaitForPolicyAsync(dataSource, request.ActionId, TimeSpan.FromSeconds(result.GetValue(wait)), ct);
            resolution = resolution with { RecordedByPolicy = byPolicy };
            if (result.GetValue(json))
            {
                AuditCli.WriteJson(resolution);
                return Cli.Ok;
            }
            Cli.Out.MarkupLine($"Action [bold]{Markup.Escape(request.ActionId)}[/] resolved as " +
                               $"{(isSucceeded ? "[green]succeeded[/]" : "[red]failed[/]")} by {Markup.Escape(resolution.ResolvedBy)}" +
                               (recorded.Earlier ? " (recorded earlier; sent again)." : "."));
            Cli.Out.MarkupLine(byPolicy
                ? isSucceeded
                    ? "[grey]The policy service recorded it: the estimate stays spent, the agent is told, and it can be rolled back.[/]"
                    : "[grey]The policy service recorded it: the estimate is given back to the budget and the agent is told.[/]"
                : "[yellow]Sent; the policy service has not recorded it yet (is it running? has `agentbus broker apply` bound " +
                  "agentbus.policy.resolutions since the upgrade?). It will when it reads its queue; running this command again sends it again, harmlessly.[/]");
            return Cli.Ok;
        }));
        return command;
    }

    /// <summary>--result as a JSON element; its type (an object) is the validator's to check, its syntax is checked here.</summary>
    static JsonElement? ParseResult(string? text, bool succeeded)
    {
        if (text is null)
            return null;
        if (!succeeded)
            throw new UsageException("--result is for --succeeded only: a failed action has no result.");
        try
        {
            using var document = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 32 });
            return document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw new UsageException($"--result is not valid JSON: {ex.Message}");
        }
    }

    static bool Same(Resolution earlier, ResolveRequest request) =>
        earlier.Outcome == (request.Succeeded ? "succeeded" : "failed") && earlier.ResolvedBy == request.Operator && earlier.Evidence == request.Evidence;

    sealed record Recorded(Resolution Resolution, bool Earlier);

    sealed record ClaimRow(string State, string? LateOutcome, string? PolicyOutcome, bool PolicyKnows);

    sealed record ResolutionRow(string State, string ResolvedBy, string Evidence, string? Result, string? ExternalReference, DateTime ResolvedAt,
        bool RecordedByPolicy);

    /// <summary>Writes the finding once, under the claim's lock; an earlier finding is returned instead (<see cref="Recorded.Earlier"/>).</summary>
    static async Task<Recorded> RecordAsync(NpgsqlDataSource dataSource, ResolveRequest request, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var claim = await connection.QuerySingleOrDefaultAsync<ClaimRow>(new CommandDefinition("""
            SELECT c.state AS State, c.late_outcome::text AS LateOutcome, p.outcome AS PolicyOutcome, p.action_id IS NOT NULL AS PolicyKnows
              FROM execution_claims c LEFT JOIN policy_actions p ON p.action_id = c.action_id
             WHERE c.action_id = @ActionId
               FOR UPDATE OF c
            """, new { request.ActionId }, tx, cancellationToken: ct));
        if (claim is null)
        {
            var decided = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
                "SELECT EXISTS (SELECT 1 FROM policy_actions WHERE action_id = @ActionId)", new { request.ActionId }, tx, cancellationToken: ct));
            throw new UsageException(decided
                ? $"Action {request.ActionId} was never claimed by an executor (it did not start): its outcome is not unknown, nothing to resolve."
                : $"There is no action {request.ActionId} (`agentbus actions unknown` lists the ones to resolve).");
        }

        var earlier = await EarlierAsync(connection, tx, request.ActionId, ct);
        if (earlier is not null)
            return new(earlier, true);
        if (claim.State != "outcome_unknown")
            throw new UsageException($"Action {request.ActionId} is not outcome-unknown: its executor recorded it as {claim.State}. " +
                                     "Only an action `agentbus actions unknown` lists can be resolved.");
        if (!claim.PolicyKnows)
            throw new UsageException($"The policy service has no record of action {request.ActionId}: it cannot be resolved through it.");
        if (claim.PolicyOutcome != "outcome_unknown")
            throw new UsageException($"The policy service has not recorded action {request.ActionId} as outcome-unknown yet " +
                                     $"({claim.PolicyOutcome ?? "no outcome"}); try again in a moment.");

        var (result, reference) = request.Succeeded ? DefaultResult(request, claim.LateOutcome) : (null, request.ExternalReference);
        var row = await connection.QuerySingleAsync<DateTime>(new CommandDefinition("""
            INSERT INTO execution_resolutions (action_id, state, resolved_by, evidence, result, external_reference, resolved_at)
            VALUES (@ActionId, @State, @Operator, @Evidence, CAST(@Result AS json), @ExternalReference, date_trunc('milliseconds', now()))
            RETURNING resolved_at
            """, new
        {
            request.ActionId, State = request.Succeeded ? "succeeded" : "failed", request.Operator, request.Evidence,
            Result = result?.GetRawText(), ExternalReference = reference,
        }, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
        return new(new Resolution(request.ActionId, request.Succeeded ? "succeeded" : "failed", request.Operator, request.Evidence, Utc(row),
            result, reference, false), false);
    }

    /// <summary>
    /// The result when none was given: what an executor copy learned after the outcome was declared unknown,
    /// if it learned a success; otherwise an explicit "no result was recorded".
    /// </summary>
    static (JsonElement? Result, string? ExternalReference) DefaultResult(ResolveRequest request, string? lateOutcome)
    {
        if (request.Result is not null)
            return (request.Result, request.ExternalReference);
        if (lateOutcome is not null)
        {
            try
            {
                using var late = JsonDocument.Parse(lateOutcome);
                if (late.RootElement.ValueKind == JsonValueKind.Object && late.RootElement.TryGetProperty("result", out var learned)
                                                                       && learned.ValueKind == JsonValueKind.Object)
                    return (learned.Clone(), request.ExternalReference ?? (late.RootElement.TryGetProperty("externalReference", out var r)
                                                                           && r.ValueKind == JsonValueKind.String ? r.GetString() : null));
            }
            catch (JsonException)
            {
                // Not an outcome: the explicit default below.
            }
        }
        return (ResolveRequest.NoRecordedResult, request.ExternalReference);
    }

    static async Task<Resolution?> EarlierAsync(NpgsqlConnection connection, NpgsqlTransaction? tx, string actionId, CancellationToken ct)
    {
        var row = await connection.QuerySingleOrDefaultAsync<ResolutionRow>(new CommandDefinition("""
            SELECT r.state AS State, r.resolved_by AS ResolvedBy, r.evidence AS Evidence, r.result::text AS Result,
                   r.external_reference AS ExternalReference, r.resolved_at AS ResolvedAt,
                   coalesce(p.resolved_at IS NOT NULL, false) AS RecordedByPolicy
              FROM execution_resolutions r LEFT JOIN policy_actions p ON p.action_id = r.action_id
             WHERE r.action_id = @ActionId
            """, new { ActionId = actionId }, tx, cancellationToken: ct));
        if (row is null)
            return null;
        JsonElement? result = null;
        if (row.Result is not null)
        {
            using var document = JsonDocument.Parse(row.Result);
            result = document.RootElement.Clone();
        }
        return new(actionId, row.State, row.ResolvedBy, row.Evidence, Utc(row.ResolvedAt), result, row.ExternalReference, row.RecordedByPolicy);
    }

    /// <summary>
    /// The operator action that carries the finding, built from the recorded row only, under an id derived
    /// from the action: a second run sends the same message, which the audit and the policy service drop.
    /// </summary>
    static Task PublishAsync(ParseResult result, BrokerAddressOptions broker, Option<string> vhost, Option<string> secrets,
        Resolution resolution, CancellationToken ct)
    {
        var request = new ResolveRequest(resolution.ResolvedBy, resolution.ActionId, resolution.Outcome == "succeeded", resolution.Evidence,
            resolution.Result, resolution.ExternalReference);
        var action = new OperatorActionTaken(resolution.ResolvedBy, OperatorActionNames.ResolveAction, resolution.ActionId, resolution.Evidence,
            request.Details(), resolution.ResolvedAt);
        return OperatorActionPublisher.PublishAsync(new OperatorBrokerEndpoint(broker.Address(result), result.GetValue(vhost)!,
            new SecretStore(result.GetValue(secrets)!)), action, MessageIds.ResolveRequest(resolution.ActionId), ct);
    }

    static async Task<bool> WaitForPolicyAsync(NpgsqlDataSource dataSource, string actionId, TimeSpan wait, CancellationToken ct)
    {
        var deadline = DateTimeOffset.UtcNow + wait;
        while (true)
        {
            await using (var connection = await dataSource.OpenConnectionAsync(ct))
            {
                if (await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
                        "SELECT EXISTS (SELECT 1 FROM policy_actions WHERE action_id = @ActionId AND resolved_at IS NOT NULL)",
                        new { ActionId = actionId }, cancellationToken: ct)))
                    return true;
            }
            if (DateTimeOffset.UtcNow >= deadline)
                return false;
            await Task.Delay(TimeSpan.FromMilliseconds(200), ct);
        }
    }

    static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));
}
