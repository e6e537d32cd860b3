using System.CommandLine;
using Dapper;
using Spectre.Console;

namespace AgentBus.Cli.Commands;

/// <summary>
/// One outcome-unknown action as `agentbus actions unknown` prints it (and as its --json). <see cref="PendingResolution"/>:
/// a resolution was recorded but the policy service has not recorded it (the command was interrupted): run it again.
/// </summary>
sealed record UnknownAction(
    string ActionId,
    string Tool,
    string? Operation,
    string AgentId,
    string RunId,
    string Executor,
    int Attempts,
    DateTime ClaimedAt,
    DateTime? FinishedAt,
    string? ErrorCode,
    string? Error,
    string? LateOutcome,
    string? PendingResolution);

/// <summary>`agentbus actions`: what happened to single actions, beside `runs` for whole runs.</summary>
static class ActionsCommands
{
    public static Command Create() => new("actions", "Single actions.") { Unknown(), ResolveCommand.Create() };

    static Command Unknown()
    {
        var postgres = Cli.Postgres();
        var agent = AuditCli.Agent();
        var tool = new Option<string?>("--tool") { Description = "Only this tool" };
        var json = AuditCli.AsJson();
        var command = new Command("unknown",
            "Actions whose outcome is unknown (an executor died mid-call, or the call's answer was lost): the side effect may have happened. " +
            "Oldest first; each needs a person to check the system of record (then: agentbus actions resolve).") { postgres, agent, tool, json };
        command.SetAction((result, ct) => Cli.Run(async () =>
        {
            await using var dataSource = AuditCli.DataSource(result, postgres);
            await using var connection = await dataSource.OpenConnectionAsync(ct);
            var actions = (await connection.QueryAsync<UnknownAction>(new CommandDefinition("""
                SELECT c.action_id AS ActionId, c.tool AS Tool, p.operation AS Operation, c.agent_id AS AgentId, c.run_id AS RunId,
                       c.executor AS Executor, c.attempts AS Attempts, c.claimed_at AS ClaimedAt, c.finished_at AS FinishedAt,
                       c.outcome::jsonb->>'errorCode' AS ErrorCode, c.outcome::jsonb->>'error' AS Error, c.late_outcome::text AS LateOutcome,
                       CASE WHEN r.action_id IS NOT NULL
                            THEN r.state || ' by ' || r.resolved_by || ' at ' || to_char(r.resolved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC'
                       END AS PendingResolution
                  FROM execution_claims c LEFT JOIN policy_actions p ON p.action_id = c.action_id
                  LEFT JOIN execution_resolutions r ON r.action_id = c.action_id
                 WHERE c.state = 'outcome_unknown' AND (r.action_id IS NULL OR p.resolved_at IS NULL)
                   AND (CAST(@Agent AS text) IS NULL OR c.agent_id = @Agent) AND (CAST(@Tool AS text) IS NULL OR c.tool = @Tool)
                 ORDER BY c.finished_at NULLS LAST, c.action_id
                """, new { Agent = result.GetValue(agent), Tool = result.GetValue(tool) }, cancellationToken: ct))).ToList();
            if (result.GetValue(json))
            {
                AuditCli.WriteJson(actions);
                return Cli.Ok;
            }
            if (actions.Count == 0)
            {
                Cli.Out.MarkupLine("No action's outcome is unknown.");
                return Cli.Ok;
            }

            var table = new Table().AddColumns("action", "operation", "agent", "run", "executor", "claimed (UTC)", "declared (UTC)", "why", "learned later");
            foreach (var action in actions)
                table.AddRow(Markup.Escape(action.ActionId), Markup.Escape(action.Operation is { } operation ? $"{action.Tool}.{operation}" : action.Tool),
                    Markup.Escape(action.AgentId), Markup.Escape(action.RunId), Markup.Escape(action.Executor), When(action.ClaimedAt),
                    action.FinishedAt is { } finished ? When(finished) : "",
                    Markup.Escape($"{action.ErrorCode}: {action.Error}" + (action.PendingResolution is { } pending
                        ? $" · resolved {pending}, not yet recorded by the policy service: run the same actions resolve again"
                        : "")),
                    action.LateOutcome is null ? "" : "yes (--json)");
            Cli.Out.Write(table);
            Cli.Out.MarkupLine($"{actions.Count} action(s) whose side effect may have happened. Check the system of record for each action id " +
                               "(sent as X-AgentBus-Action-Id and Idempotency-Key), then record what you found with " +
                               "`agentbus actions resolve ACTION_ID --succeeded|--failed --evidence TEXT`; do not propose it again blindly. docs/executors.md, \"Reconciling\".");
            return Cli.Ok;
        }));
        return command;
    }

    static string When(DateTime utc) => AuditCli.When(new DateTimeOffset(DateTime.SpecifyKind(utc, DateTimeKind.Utc)));
}
