using System.CommandLine;
using System.Text.Json;
using AgentBus.Catalog;
using AgentBus.Operations.Audit;
using AgentBus.Operations.Broker;
using AgentBus.Operations.Rollback;
using AgentBus.Client;
using AgentBus.Contracts;
using AgentBus.Policy.Rollback;
using Spectre.Console;

namespace AgentBus.Cli.Commands;

/// <summary>
/// `agentbus runs rollback`: undoes a run's succeeded actions, newest first, each by the compensation its
/// operation declares, proposed by the rollback identity through the same policy (grants, limits, budgets,
/// approvals) as anything else, and audited as such; the operator's request is audited too.
/// </summary>
static class RollbackCommand
{
    const int MaxReasonLength = 500;

    public static Command Create()
    {
        var runId = new Argument<string>("run-id") { Description = "The run to undo" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the plan and stop" };
        var reason = new Option<string?>("--reason") { Description = "Why (in the audit and each compensation's intent, so approvers see it)" };
        var until = new Option<string?>("--until") { Description = "Undo back to this action of the run (it included), not further" };
        var identity = new Option<string?>("--as")
        {
            Description = "The rollback identity to propose as (default: the one agent with rollback: true in the policy)",
        };
        var passwordFile = new Option<string?>("--password-file") { Description = "Its broker password (default: the secrets directory's rabbitmq/AGENT)" };
        var wait = new Option<string>("--wait")
        {
            Description = "How long to follow one compensation (approval included) before stopping; run again to go on (e.g. 30s, 10m)",
            DefaultValueFactory = _ => "10m",
        };
        var operatorName = new Option<string>("--operator")
        {
            Description = "Who is doing this (default: $AGENTBUS_OPERATOR or the login name)",
            DefaultValueFactory = _ => Cli.Env("AGENTBUS_OPERATOR") ?? Environment.UserName,
        };
        var policyFile = new Option<string>("--policy")
        {
            Description = "The policy in force, for its rollback identity and catalog (default: $AGENTBUS_POLICY_FILE)",
            DefaultValueFactory = _ => Cli.Env("AGENTBUS_POLICY_FILE") ?? "",
        };
        var approvalsUrl = new Option<string>("--approvals-url")
        {
            Description = "Where approvers decide, for the link printed while waiting (default: $AGENTBUS_APPROVALS_URL or http://127.0.0.1:5104)",
            DefaultValueFactory = _ => Cli.Env("AGENTBUS_APPROVALS_URL") ?? "http://127.0.0.1:5104",
        };
        var postgres = Cli.Postgres();
        var host = Cli.RabbitMqHost();
        var port = Cli.RabbitMqPort();
        var vhost = Cli.VirtualHost();
        var secrets = Cli.SecretsDirectory();
        var json = AuditCli.AsJson();
        var command = new Command("rollback",
            "Undo a run: each succeeded action, newest first, by its declared compensation, proposed through the policy as the rollback " +
            "identity (approvals included). Lists the plan first; running it again, or from two terminals, never undoes an action twice.")
        {
            runId, dryRun, reason, until, identity, passwordFile, wait, operatorName, policyFile, approvalsUrl, postgres, host, port, vhost, secrets, json,
        };
        command.SetAction((result, ct) => Cli.Run(async () =>
        {
            var run = result.GetValue(runId)!;
            var why = result.GetValue(reason);
            if (why is { Length: > MaxReasonLength } || why?.Any(char.IsControl) == true)
                throw new UsageException($"--reason must be at most {MaxReasonLength} characters without control characters.");
            var who = result.GetValue(operatorName);
            if (string.IsNullOrWhiteSpace(who) || who.Length > 200 || who.Any(char.IsControl))
                throw new UsageException("--operator is required (who is doing this), at most 200 characters.");
            if (!Durations.TryParse(result.GetValue(wait), out var follow) || follow <= TimeSpan.Zero)
                throw new UsageException($"--wait '{result.GetValue(wait)}' is not a duration such as 30s or 10m.");
            var policy = PolicyCommands.Load(Cli.Required(result, policyFile, "the policy in force, for the rollback identity and the catalog"));

            await using var dataSource = AuditCli.DataSource(result, postgres);
            var records = new UndoRecords(dataSource);
            var plan = await RollbackPlan.BuildAsync(records, policy, run, result.GetValue(until), ct);
            if (plan is null)
            {
                Cli.Error($"The policy service has recorded no action of run '{run}'.");
                return Cli.Failed;
            }
            var asJson = result.GetValue(json);
            if (!asJson)
                PrintPlan(plan);
            if (result.GetValue(dryRun) || !plan.Steps.Any(s => s.Proposes))
            {
                if (asJson)
                    AuditCli.WriteJson(new { plan, results = Array.Empty<RollbackResult>() });
                else if (!result.GetValue(dryRun))
                    Cli.Out.MarkupLine("Nothing to propose.");
                return result.GetValue(dryRun) ? Cli.Ok : Ended(plan, []);
            }

            var agentId = result.GetValue(identity) ?? RollbackIdentity(policy);
            if (!policy.Agents.TryGetValue(agentId, out var agent) || !agent.Rollback)
                throw new UsageException($"'{agentId}' is not a rollback identity of the policy (an agent with rollback: true).");
            var password = await PasswordAsync(result.GetValue(passwordFile) ?? new SecretStore(result.GetValue(secrets)!).PathFor("rabbitmq", agentId), ct);

            await OperatorActionPublisher.PublishAsync(
                new OperatorBrokerEndpoint(result.GetValue(host)!, result.GetValue(port), result.GetValue(vhost)!, new SecretStore(result.GetValue(secrets)!)),
                new OperatorActionTaken(who, "run.rollback", run, why,
                    JsonSerializer.SerializeToElement(new { rollbackRunId = plan.RollbackRunId, identity = agentId, plan.Steps }), DateTimeOffset.UtcNow),
                Guid.NewGuid(), ct);

            await using var client = await AgentClient.ConnectAsync(new AgentClientOptions
            {
                Host = result.GetValue(host)!, Port = result.GetValue(port), VirtualHost = result.GetValue(vhost)!, AgentId = agentId, Password = password,
            }, ct);
            var runner = new RollbackRunner(records, client, follow, new Uri(result.GetValue(approvalsUrl)!),
                line => { if (!asJson) Cli.Out.MarkupLine(Markup.Escape(line)); });
            var results = await runner.RunAsync(plan, who, why, ct);
            var after = await RollbackPlan.BuildAsync(records, policy, run, result.GetValue(until), ct) ?? plan;
            if (asJson)
                AuditCli.WriteJson(new { plan = after, results });
            else
                Summarize(after);
            return Ended(after, results);
        }));
        return command;
    }

    /// <summary>
    /// 0: everything that can be undone is. 1: a compensation failed or was denied, or an outcome is unknown (a person must act).
    /// 4: nothing failed, but something waits (an approval, an action of the run still running); run it again later.
    /// </summary>
    static int Ended(RollbackPlan plan, IReadOnlyList<RollbackResult> results)
    {
        if (results.Any(r => r.Result is RollbackResults.Failed or RollbackResults.Unknown) ||
            plan.Steps.Any(s => s.Status is RollbackStatuses.OutcomeUnknown or RollbackStatuses.CompensationUnknown or RollbackStatuses.GaveUp or RollbackStatuses.Retry))
            return Cli.Failed;
        return plan.Steps.All(s => s.Status is RollbackStatuses.Undone or RollbackStatuses.Irreversible or RollbackStatuses.NoCompensation)
            ? Cli.Ok
            : Cli.Incomplete;
    }

    static string RollbackIdentity(Policy.Engine.PolicySnapshot policy)
    {
        var identities = policy.Agents.Values.Where(a => a.Rollback).Select(a => a.Id).Order(StringComparer.Ordinal).ToList();
        return identities switch
        {
            [var only] => only,
            [] => throw new UsageException("The policy has no rollback identity: add an agent with rollback: true and grant it the compensating operations (docs/operations.md, \"Undo what an agent did\")."),
            _ => throw new UsageException($"The policy has several rollback identities ({string.Join(", ", identities)}); name one with --as."),
        };
    }

    static async Task<string> PasswordAsync(string file, CancellationToken ct)
    {
        try
        {
            return (await File.ReadAllTextAsync(file, ct)).Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"Cannot read the rollback identity's broker password from {file}: {ex.Message}");
        }
    }

    static void PrintPlan(RollbackPlan plan)
    {
        Cli.Out.MarkupLine($"Rollback of run [bold]{Markup.Escape(plan.RunId)}[/] (its compensations form run {Markup.Escape(plan.RollbackRunId)}), newest action first:");
        if (plan.Steps.Count == 0)
        {
            Cli.Out.MarkupLine("  Nothing in this run changed anything: every action was read-only, denied or failed.");
            return;
        }
        var table = new Table().AddColumns("action", "agent", "operation", "decided (UTC)", "status", "compensation", "detail");
        foreach (var step in plan.Steps)
            table.AddRow(Markup.Escape(step.ActionId), Markup.Escape(step.AgentId), Markup.Escape(step.Operation), AuditCli.When(step.DecidedAt),
                Status(step.Status),
                step.Compensation is { } compensation ? Markup.Escape($"{compensation} {step.Arguments?.GetRawText()}") : "",
                Markup.Escape(AuditCli.Cut(step.Detail, 140) ?? ""));
        Cli.Out.Write(table);
    }

    static void Summarize(RollbackPlan after)
    {
        var counts = after.Steps.GroupBy(s => s.Status).Select(g => $"{g.Count()} {g.Key}");
        Cli.Out.MarkupLine($"Now: {Markup.Escape(string.Join(", ", counts))}. The run story shows it: agentbus runs show {Markup.Escape(after.RunId)}");
    }

    static string Status(string status) => status switch
    {
        RollbackStatuses.Undone => "[green]undone[/]",
        RollbackStatuses.Undo or RollbackStatuses.Retry => $"[bold]{status}[/]",
        RollbackStatuses.OutcomeUnknown or RollbackStatuses.CompensationUnknown or RollbackStatuses.GaveUp => $"[red]{status}[/]",
        _ => $"[yellow]{status}[/]",
    };
}
