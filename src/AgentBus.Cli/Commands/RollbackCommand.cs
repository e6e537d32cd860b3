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
        var brokerAddress = new BrokerAddressOptions();
        var vhost = Cli.VirtualHost();
        var secrets = Cli.SecretsDirectory();
        var json = AuditCli.AsJson();
        var command = new Command("rollback",
            "Undo a run: each succeeded action, newest first, by its declared compensation, proposed through the policy as the rollback " +
            "identity (approvals included). Lists the plan first; running it again, or from two terminals, never undoes an action twice.")
        {
            runId, dryRun, reason, until, identity, passwordFile, wait, operatorName, policyFile, approvalsUrl, postgres, brokerAddress.Host, brokerAddress.Port, brokerAddress.Endpoints, vhost, secrets, json,
        };
        command.SetAction((result, ct) => Cli.Run(async () =>
        {
            var run = result.GetValue(runId)!;
            var why = result.GetValue(reason);
            var who = result.GetValue(operatorName);
            try
            {
                RunRollback.CheckRequest(who, why);
            }
            catch (RollbackPlanException ex)
            {
                throw new UsageException($"{ex.Message} (--operator, --reason)");
            }
            if (!Durations.TryParse(result.GetValue(wait), out var follow) || follow <= TimeSpan.Zero)
                throw new UsageException($"--wait '{result.GetValue(wait)}' is not a duration such as 30s or 10m.");
            var policy = PolicyCommands.Load(Cli.Required(result, policyFile, "the policy in force, for the rollback identity and the catalog"));

            await using var dataSource = AuditCli.DataSource(result, postgres);
            var broker = new OperatorBrokerEndpoint(brokerAddress.Address(result), result.GetValue(vhost)!, new SecretStore(result.GetValue(secrets)!));
            var rollback = new RunRollback(dataSource, broker);
            var plan = await rollback.PlanAsync(policy, run, result.GetValue(until), ct);
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
                return result.GetValue(dryRun) ? Cli.Ok : Ended(new RollbackRun(plan, plan, []));
            }

            var agentId = RunRollback.IdentityOf(policy, result.GetValue(identity));
            var password = await PasswordAsync(result.GetValue(passwordFile) ?? broker.Secrets.PathFor("rabbitmq", agentId), ct);
            var done = await rollback.RunAsync(policy, plan, who, why, result.GetValue(until), agentId, password, new Uri(result.GetValue(approvalsUrl)!), follow,
                line => { if (!asJson) Cli.Out.MarkupLine(Markup.Escape(line)); }, ct);
            if (asJson)
                AuditCli.WriteJson(new { plan = done.After, results = done.Results });
            else
                Summarize(done.After);
            return Ended(done);
        }));
        return command;
    }

    /// <summary>
    /// 0: everything that can be undone is. 1: a compensation failed or was denied, or an outcome is unknown (a person must act).
    /// 4: nothing failed, but something waits (an approval, an action of the run still running); run it again later.
    /// </summary>
    static int Ended(RollbackRun run) => run.NeedsAPerson ? Cli.Failed : run.Complete ? Cli.Ok : Cli.Incomplete;

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
