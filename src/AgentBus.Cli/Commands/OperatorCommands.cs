using System.CommandLine;
using AgentBus.Operations.Audit;
using AgentBus.Operations.Broker;
using AgentBus.Operations.Suspensions;
using Npgsql;
using Spectre.Console;

namespace AgentBus.Cli.Commands;

/// <summary>
/// The kill switch: `agentbus agents suspend|resume ID` and `agentbus tools suspend|resume NAME`.
/// The suspension is a row in PostgreSQL that every policy instance reads within a second and
/// every executor checks before it runs a command (so commands already queued are refused too);
/// each change is published as OperatorActionTaken, which the audit records with the operator. The
/// work is <see cref="KillSwitch"/>'s, which the console calls too.
/// </summary>
static class OperatorCommands
{
    public static Command Agents() => Create("agents", SuspensionKind.Agent, "ID", "Suspend or resume an agent: no proposal of a suspended agent is allowed or executed.");

    public static Command Tools() => Create("tools", SuspensionKind.Tool, "NAME", "Suspend or resume a tool: no command for a suspended tool is allowed or executed.");

    static Command Create(string name, SuspensionKind suspensionKind, string argument, string description)
    {
        var kind = KillSwitch.KindName(suspensionKind);
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
            var broker = new BrokerAddressOptions();
            var vhost = Cli.VirtualHost();
            var secrets = Cli.SecretsDirectory();
            var sub = new Command(suspend ? "suspend" : "resume", suspend
                ? $"Suspend a {kind} on every policy instance and executor, and audit it."
                : $"Lift a {kind}'s suspension, and audit it.")
            {
                target, reason, operatorName, postgres, broker.Host, broker.Port, broker.Endpoints, vhost, secrets,
            };
            sub.SetAction((result, ct) => Cli.Run(async () =>
            {
                var subject = result.GetValue(target)!;
                var who = result.GetValue(operatorName);
                if (string.IsNullOrWhiteSpace(who))
                    throw new UsageException("--operator is required: who is doing this.");

                await using var database = NpgsqlDataSource.Create(Cli.Required(result, postgres, "the AgentBus database"));
                var killSwitch = new KillSwitch(database, new OperatorBrokerEndpoint(broker.Address(result),
                    result.GetValue(vhost)!, new SecretStore(result.GetValue(secrets)!)), TimeProvider.System);
                KillSwitchResult outcome;
                try
                {
                    outcome = await killSwitch.SetAsync(suspensionKind, subject, suspend, who, result.GetValue(reason), ct);
                }
                catch (KillSwitchException ex)
                {
                    throw new UsageException(ex.Message);
                }
                if (outcome.Change is not { } change)
                {
                    AnsiConsole.MarkupLine($"{Markup.Escape(kind)} [bold]{Markup.Escape(subject)}[/] was not suspended; nothing to do.");
                    return Cli.Ok;
                }

                AnsiConsole.MarkupLine(suspend
                    ? change.Existing
                        ? $"{kind} [bold]{Markup.Escape(subject)}[/] was already suspended (since {change.At:u} by {Markup.Escape(change.By)})."
                        : $"{kind} [bold]{Markup.Escape(subject)}[/] [red]suspended[/]: policy denies it within a second; executors refuse its queued commands."
                    : $"{kind} [bold]{Markup.Escape(subject)}[/] [green]resumed[/].");
                if (outcome.AuditError is { } error)
                {
                    Cli.Error(error);
                    return Cli.Failed;
                }
                AnsiConsole.MarkupLine($"[grey]Audited as {Markup.Escape(outcome.Action!.Action)} by {Markup.Escape(who)}.[/]");
                return Cli.Ok;
            }));
            command.Add(sub);
        }
        return command;
    }
}
