using System.Text;
using AgentBus.OperatorConsole.Identity;
using AgentBus.Operations.Rollback;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace AgentBus.OperatorConsole.Pages;

/// <summary>
/// Undoing a run from its page, for operators: the plan first (what `agentbus runs rollback --dry-run`
/// prints), then the same rollback as the CLI's, proposed as the policy's rollback identity and audited with
/// the operator's name. A request follows each compensation for Console:RollbackWait; running it again
/// goes on where it stopped and never proposes anything twice.
/// </summary>
static class RollbackSection
{
    public static IEndpointRouteBuilder MapRollback(this IEndpointRouteBuilder app)
    {
        app.MapPost("/runs/{runId}/rollback", RollBackAsync).RequireAuthorization(ConsoleAuthentication.OperatorPolicy);
        return app;
    }

    public static async Task<string> RenderAsync(string runId, PolicyInForce policies, RunRollback rollback, AntiforgeryTokenSet tokens, CancellationToken ct)
    {
        var html = new StringBuilder("<section class=\"card\" id=\"rollback\"><h2>Roll back</h2>");
        if (policies.Current().Policy is not { } policy)
            return html.Append("<p>The policy file does not load; no rollback can be planned.</p></section>").ToString();
        RollbackPlan? plan;
        try
        {
            plan = await rollback.PlanAsync(policy, runId, null, ct);
        }
        catch (RollbackPlanException ex)
        {
            return html.Append($"<p>{Html.E(ex.Message)}</p></section>").ToString();
        }
        if (plan is null)
            return html.Append("<p class=\"muted\">The policy service recorded no action of this run.</p></section>").ToString();

        html.Append($"<p class=\"muted\">Newest action first; the compensations form run <a href=\"/runs/{Html.U(plan.RollbackRunId)}\">{Html.E(plan.RollbackRunId)}</a>.</p>")
            .Append("<table id=\"rollback-plan\"><thead><tr><th>action</th><th>operation</th><th>status</th><th>compensation</th><th>detail</th></tr></thead><tbody>");
        foreach (var step in plan.Steps)
            html.Append($"<tr data-action=\"{Html.E(step.ActionId)}\"><td><code>{Html.E(Html.Cut(step.ActionId, 40))}</code></td><td>{Html.E(step.Operation)}</td>")
                .Append($"<td>{Html.Badge(step.Status, step.Proposes ? "warn" : step.Status == RollbackStatuses.Undone ? "ok" : "muted")}</td>")
                .Append($"<td>{Html.E(step.Compensation)}</td><td>{Html.E(Html.Cut(step.Detail, 200))}</td></tr>");
        html.Append("</tbody></table>");
        if (plan.Steps.Count == 0)
            html.Append("<p class=\"muted\">Nothing in this run changed anything: every action was read-only, denied or failed.</p>");
        if (plan.Steps.Any(s => s.Proposes))
            html.Append($"<form method=\"post\" action=\"/runs/{Html.U(runId)}/rollback\" id=\"rollback-form\">{Html.Antiforgery(tokens)}")
                .Append($"<input name=\"reason\" placeholder=\"why (audited, shown to approvers)\" maxlength=\"{RunRollback.MaxReasonLength}\" size=\"50\" required> ")
                .Append("<button type=\"submit\" class=\"danger\" id=\"rollback-run\">Roll back this run</button></form>");
        return html.Append("</section>").ToString();
    }

    static async Task<IResult> RollBackAsync(string runId, [FromForm] string? reason, HttpContext http, PolicyInForce policies, RunRollback rollback,
        IOptions<ConsoleOptions> options, ILogger<RunRollback> logger)
    {
        var user = ConsoleUser.From(http.User);
        var back = $"/runs/{Html.U(runId)}";
        if (policies.Current().Policy is not { } policy)
            return Html.Back(back, false, "The policy file does not load; no rollback can be planned.");
        try
        {
            RunRollback.CheckRequest(user.Name, reason);
            var plan = await rollback.PlanAsync(policy, runId, null, http.RequestAborted);
            if (plan is null || !plan.Steps.Any(s => s.Proposes))
                return Html.Back(back, true, "Nothing to propose: the run has nothing left to undo.");
            var identity = RunRollback.IdentityOf(policy, options.Value.RollbackIdentity);
            var passwordFile = new Operations.Broker.SecretStore(options.Value.SecretsDirectory!).PathFor("rabbitmq", identity);
            if (!File.Exists(passwordFile))
                return Html.Back(back, false, $"No broker password for the rollback identity {identity} at {passwordFile}.");
            var password = (await File.ReadAllTextAsync(passwordFile, http.RequestAborted)).Trim();
            var done = await rollback.RunAsync(policy, plan, user.Name, reason?.Trim(), null, identity, password,
                options.Value.ApprovalsUrl is { Length: > 0 } url ? new Uri(url) : null, options.Value.RollbackWait,
                line => logger.LogInformation("Rollback of {RunId} by {Operator}: {Line}", runId, user.Name, line), http.RequestAborted);
            var counts = string.Join(", ", done.After.Steps.GroupBy(s => s.Status).Select(g => $"{g.Count()} {g.Key}"));
            return Html.Back(back, !done.NeedsAPerson,
                (done.Complete ? "Rolled back" : done.NeedsAPerson ? "The rollback stopped: a person must act" : "Rollback under way; some steps wait") +
                $" ({counts}). Audited as run.rollback by {user.Name}." + string.Concat(done.Results.Where(r => r.Detail.Length > 0).Select(r => " " + r.Detail)));
        }
        catch (RollbackPlanException ex)
        {
            return Html.Back(back, false, ex.Message);
        }
        catch (Exception ex) when (Operations.Audit.OperatorActionPublisher.IsUnreachable(ex) || ex is RabbitMQ.Client.Exceptions.RabbitMQClientException)
        {
            return Html.Back(back, false, $"The rollback could not start: {ex.GetBaseException().Message}. Nothing was proposed twice; try again.");
        }
    }
}
