using System.CommandLine;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using AgentBus.Cli.Broker;
using AgentBus.Contracts;
using AgentBus.Policy.Engine;
using AgentBus.ServiceDefaults.Messaging;
using Dapper;
using Npgsql;
using RabbitMQ.Client;
using Spectre.Console;

namespace AgentBus.Cli.Commands;

/// <summary>
/// The kill switch: `agentbus agents suspend|resume ID` and `agentbus tools suspend|resume NAME`.
/// The suspension is a row in PostgreSQL that every policy instance reads within a second and
/// every executor checks before it runs a command (so commands already queued are refused too);
/// each change is published as OperatorActionTaken, which the audit records with the operator.
/// </summary>
static class OperatorCommands
{
    public static Command Agents() => Create("agents", "agent", "ID", "Suspend or resume an agent: no proposal of a suspended agent is allowed or executed.");

    public static Command Tools() => Create("tools", "tool", "NAME", "Suspend or resume a tool: no command for a suspended tool is allowed or executed.");

    static Command Create(string name, string kind, string argument, string description)
    {
        var command = new Command(name, description);
        foreach (var suspend in new[] { true, false })
        {
            var target = new Argument<string>(argument) { Description = $"The {kind}" };
            var reason = new Option<string?>("--reason") { Description = "Why (recorded in the audit)" };
            var operatorName = new Option<string>("--operator")
            {
                Description = "Who is doing this (default: $AGENTBUS_OPERATOR or the login name)",
                DefaultValueFactory = _ => Cli.Env("AGENTBUS_OPERATOR") ?? Environment.UserName,
            };
            var postgres = Cli.Postgres();
            var rabbit = Cli.RabbitMqHost();
            var port = Cli.RabbitMqPort();
            var vhost = Cli.VirtualHost();
            var secrets = Cli.SecretsDirectory();
            var sub = new Command(suspend ? "suspend" : "resume", suspend
                ? $"Suspend a {kind} on every policy instance and executor, and audit it."
                : $"Lift a {kind}'s suspension, and audit it.")
            {
                target, reason, operatorName, postgres, rabbit, port, vhost, secrets,
            };
            sub.SetAction((result, ct) => Cli.Run(async () =>
            {
                var subject = result.GetValue(target)!;
                if (!Regex.IsMatch(subject, Names.Pattern))
                    throw new UsageException($"'{subject}' is not a valid {kind} name: {Names.Rule(kind)}");
                var who = result.GetValue(operatorName);
                if (string.IsNullOrWhiteSpace(who))
                    throw new UsageException("--operator is required: who is doing this.");

                var change = await ChangeAsync(Cli.Required(result, postgres, "the AgentBus database"), kind, subject, suspend, who,
                    result.GetValue(reason), ct);
                if (change is null)
                {
                    AnsiConsole.MarkupLine($"{Markup.Escape(kind)} [bold]{Markup.Escape(subject)}[/] was not suspended; nothing to do.");
                    return Cli.Ok;
                }

                AnsiConsole.MarkupLine(suspend
                    ? change.Existing
                        ? $"{kind} [bold]{Markup.Escape(subject)}[/] was already suspended (since {change.At:u} by {Markup.Escape(change.By)})."
                        : $"{kind} [bold]{Markup.Escape(subject)}[/] [red]suspended[/]: policy denies it within a second; executors refuse its queued commands."
                    : $"{kind} [bold]{Markup.Escape(subject)}[/] [green]resumed[/].");

                var action = new OperatorActionTaken(who, $"{kind}.{(suspend ? "suspend" : "resume")}", subject, result.GetValue(reason),
                    JsonSerializer.SerializeToElement(new { kind, suspendedAt = change.At, suspendedBy = change.By }), change.Now);
                // Derived from the suspension itself: re-running the command after a failed publish
                // repeats the same audit event instead of adding a second one.
                var messageId = MessageIds.For($"{kind}:{subject}:{change.At:O}", action.Action);
                try
                {
                    await PublishAsync(result.GetValue(rabbit)!, result.GetValue(port), result.GetValue(vhost)!,
                        new SecretStore(result.GetValue(secrets)!), action, messageId, ct);
                }
                catch (Exception ex) when (ex is RabbitMQ.Client.Exceptions.BrokerUnreachableException
                                               or RabbitMQ.Client.Exceptions.OperationInterruptedException
                                               or OperationCanceledException or IOException or TimeoutException)
                {
                    Cli.Error($"The {kind} is {(suspend ? "suspended" : "resumed")}, but the audit event could not be published " +
                              $"({ex.GetBaseException().Message}); run the same command again to publish it.");
                    return Cli.Failed;
                }
                AnsiConsole.MarkupLine($"[grey]Audited as {Markup.Escape(action.Action)} by {Markup.Escape(who)}.[/]");
                return Cli.Ok;
            }));
            command.Add(sub);
        }
        return command;
    }

    sealed record SuspensionRow(DateTime At, string By);

    sealed record Change(DateTimeOffset At, string By, bool Existing, DateTimeOffset Now);

    static async Task<Change?> ChangeAsync(string connectionString, string kind, string name, bool suspend, string who, string? reason,
        CancellationToken ct)
    {
        var now = DateTimeOffset.UtcNow;
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        if (suspend)
        {
            var inserted = await connection.QuerySingleOrDefaultAsync<DateTime?>(new CommandDefinition("""
                INSERT INTO policy_suspensions (kind, name, suspended_by, reason, suspended_at) VALUES (@Kind, @Name, @Who, @Reason, @Now)
                ON CONFLICT (kind, name) DO NOTHING
                RETURNING suspended_at
                """, new { Kind = kind, Name = name, Who = who, Reason = reason, Now = now }, cancellationToken: ct));
            if (inserted is { } at)
                return new(Utc(at), who, false, now);
            var existing = await connection.QuerySingleAsync<SuspensionRow>(new CommandDefinition(
                "SELECT suspended_at AS At, suspended_by AS By FROM policy_suspensions WHERE kind = @Kind AND name = @Name",
                new { Kind = kind, Name = name }, cancellationToken: ct));
            return new(Utc(existing.At), existing.By, true, now);
        }

        var deleted = await connection.QuerySingleOrDefaultAsync<SuspensionRow>(new CommandDefinition(
            "DELETE FROM policy_suspensions WHERE kind = @Kind AND name = @Name RETURNING suspended_at AS At, suspended_by AS By",
            new { Kind = kind, Name = name }, cancellationToken: ct));
        return deleted is null ? null : new(Utc(deleted.At), deleted.By, false, now);
    }

    static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    /// <summary>Plain JSON with MassTransit's message-type header, as the projections endpoint reads it; confirmed, with a timeout.</summary>
    internal static async Task PublishAsync(string host, int port, string vhost, SecretStore secrets, OperatorActionTaken action, Guid messageId,
        CancellationToken ct)
    {
        var passwordFile = secrets.PathFor("rabbitmq", BrokerTopology.OperatorUser);
        if (!File.Exists(passwordFile))
            throw new IOException($"no password for broker user {BrokerTopology.OperatorUser} at {passwordFile}");

        var factory = new ConnectionFactory
        {
            HostName = host,
            Port = port,
            VirtualHost = vhost,
            UserName = BrokerTopology.OperatorUser,
            Password = (await File.ReadAllTextAsync(passwordFile, ct)).Trim(),
            ClientProvidedName = "agentbus-cli",
            AutomaticRecoveryEnabled = false,
            RequestedConnectionTimeout = TimeSpan.FromSeconds(10),
        };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(15));
        await using var connection = await factory.CreateConnectionAsync(timeout.Token);
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true), timeout.Token);
        var properties = new BasicProperties
        {
            ContentType = WireNames.ContentType,
            DeliveryMode = DeliveryModes.Persistent,
            MessageId = messageId.ToString(),
            Type = nameof(OperatorActionTaken),
            UserId = BrokerTopology.OperatorUser,
            Headers = new Dictionary<string, object?> { ["MT-MessageType"] = $"urn:message:{typeof(OperatorActionTaken).Namespace}:{nameof(OperatorActionTaken)}" },
        };
        var body = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(action, WireJson.Options));
        // Routed by the action ("agent.suspend"): the approvals service binds the suspensions it acts on.
        await channel.BasicPublishAsync(WireNames.OperatorActionsExchange, action.Action, mandatory: true, properties, body, timeout.Token);
    }
}
