using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using AgentBus.Audit.Stories;
using Spectre.Console;

namespace AgentBus.Cli.Commands;

static class RunsCommands
{
    public static Command Create() => new("runs", "Runs as the audit tells them, and their rollback.") { List(), Show(), RollbackCommand.Create() };

    static Command List()
    {
        var postgres = Cli.Postgres();
        var agent = AuditCli.Agent();
        var status = new Option<string?>("--status") { Description = "running (not reported over yet), succeeded or failed" };
        status.AcceptOnlyFromAmong([.. RunStatuses.All]);
        var since = AuditCli.Since("7d");
        var until = AuditCli.Until();
        var limit = new Option<int>("--limit") { Description = "At most this many (newest first)", DefaultValueFactory = _ => 50 };
        var json = AuditCli.AsJson();
        var command = new Command("list", "List runs, newest first, filtered by agent, status and time.") { postgres, agent, status, since, until, limit, json };
        command.SetAction((result, ct) => Cli.Run(async () =>
        {
            var now = DateTimeOffset.UtcNow;
            var filter = new RunListFilter(result.GetValue(agent), result.GetValue(status),
                AuditCli.Time(result.GetValue(since), "--since", now) ?? now.AddDays(-7), AuditCli.Time(result.GetValue(until), "--until", now),
                result.GetValue(limit) is var n and > 0 ? n : throw new UsageException("--limit must be 1 or more."));
            await using var dataSource = AuditCli.DataSource(result, postgres);
            var runs = await new RunListQuery(dataSource).ListAsync(filter, ct);
            if (result.GetValue(json))
            {
                AuditCli.WriteJson(runs);
                return Cli.Ok;
            }

            if (runs.Count == 0)
            {
                Cli.Out.MarkupLine($"No runs since {AuditCli.When(filter.Since)} UTC match.");
                return Cli.Ok;
            }
            var table = new Table().AddColumns("run", "agent", "status", "started (UTC)", "last event", "proposed", "allowed", "denied",
                "pending", "succeeded", "failed", "unknown", "cost");
            foreach (var run in runs)
                table.AddRow(Markup.Escape(run.RunId), Markup.Escape(run.AgentId), Status(run.Status), AuditCli.When(run.FirstEventAt),
                    AuditCli.When(run.LastEventAt), Count(run.Proposed), Count(run.Allowed), Count(run.Denied), Count(run.PendingApproval),
                    Count(run.Succeeded), Count(run.Failed), Count(run.OutcomeUnknown), AuditCli.Usd(run.CostUsd));
            Cli.Out.Write(table);
            Cli.Out.MarkupLine($"{runs.Count} run(s). Details: agentbus runs show RUN_ID");
            return Cli.Ok;
        }));
        return command;
    }

    static Command Show()
    {
        var postgres = Cli.Postgres();
        var runId = new Argument<string>("run-id") { Description = "The run to tell" };
        var json = AuditCli.AsJson();
        var command = new Command("show", "One run as a timeline: each action, its decision and rule, approvals, execution, outcome, cost; then the totals.")
        {
            runId, postgres, json,
        };
        command.SetAction((result, ct) => Cli.Run(async () =>
        {
            await using var dataSource = AuditCli.DataSource(result, postgres);
            var id = result.GetValue(runId)!;
            var story = await new RunStoryQuery(dataSource).GetAsync(id, ct);
            if (story is null)
            {
                Cli.Error($"The audit has no run '{id}'.");
                return Cli.Failed;
            }
            if (result.GetValue(json))
                AuditCli.WriteJson(story);
            else
                Print(story);
            return Cli.Ok;
        }));
        return command;
    }

    static void Print(RunStory story)
    {
        Cli.Out.MarkupLine($"Run [bold]{Markup.Escape(story.RunId)}[/]  {Status(story.Status)}  started {AuditCli.When(story.StartedAt)} UTC, " +
                           $"last event {AuditCli.When(story.LastEventAt)} UTC");
        foreach (var agent in story.Agents)
            Cli.Out.MarkupLine($"  {Markup.Escape(agent.AgentId)}: " + (agent.Succeeded is { } ok
                ? $"reported {(ok ? "[green]success[/]" : "[red]failure[/]")} at {AuditCli.When(agent.CompletedAt)}{(agent.Summary is { } s ? $": {AuditCli.Cut(s, 120)}" : "")}"
                : "[yellow]has not reported the end of the run[/]"));

        var table = new Table().AddColumns("#", "time (UTC)", "agent", "tool", "step", "result", "detail");
        var number = 0;
        foreach (var action in story.Actions)
        {
            number++;
            var first = true;
            foreach (var step in action.Steps)
            {
                table.AddRow(first ? $"{number}" : "", AuditCli.Clock(step.At), first ? Markup.Escape(action.AgentId ?? "?") : "",
                    first ? Markup.Escape(action.Tool ?? "") : "", StepName(step), Result(step.Outcome), Detail(step, action));
                first = false;
            }
            if (action.Status != action.Steps[^1].Outcome)
                table.AddRow("", "", "", "", "now", $"[bold]{Result(action.Status)}[/]", "");
            // Its rollback, beside it: every attempt at undoing it, oldest first.
            foreach (var undo in story.Rollback?.Actions.Where(u => u.Undoes == action.ActionId) ?? [])
                table.AddRow("", AuditCli.Clock(undo.FirstEventAt), Markup.Escape(undo.AgentId ?? "?"), Markup.Escape(undo.Tool ?? ""), "undo",
                    Result(undo.Status), Join(undo.ReasonCode is { } code && undo.Status != "succeeded" ? Markup.Escape(code) : null,
                        undo.Arguments is { } args ? AuditCli.Cut(args.GetRawText(), 80) : null, $"action {Markup.Escape(undo.ActionId)}"));
        }
        foreach (var step in story.RunEvents)
            table.AddRow("", AuditCli.Clock(step.At), Markup.Escape(step.Actor ?? ""), "", StepName(step), Result(step.Outcome),
                AuditCli.Cut(Text(step.Payload, "summary") ?? step.ReasonCode, 100));
        Cli.Out.Write(table);

        var t = story.Totals;
        Cli.Out.MarkupLine($"Totals: {t.Actions} action(s) · {t.Allowed} allowed · {t.Denied} denied · {t.PendingApproval} awaiting approval · " +
                           $"{t.Authorized} authorized · {t.Succeeded} succeeded · {t.Failed} failed · {t.OutcomeUnknown} outcome unknown · " +
                           $"{t.Refused} refused by the executor · cost {AuditCli.Usd(t.CostUsd)} · {t.Duration.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s");
        if (story.Rollback is { } rollback)
            Cli.Out.MarkupLine($"Rollback (run {Markup.Escape(rollback.RunId)}, its own story: agentbus runs show {Markup.Escape(rollback.RunId)}): " +
                               $"{rollback.Totals.Actions} compensation(s) · {rollback.Totals.Succeeded} succeeded · {rollback.Totals.PendingApproval} awaiting approval · " +
                               $"{rollback.Totals.Denied} denied · {rollback.Totals.Failed} failed · {rollback.Totals.OutcomeUnknown} outcome unknown · cost {AuditCli.Usd(rollback.Totals.CostUsd)}");
        foreach (var request in story.Rollback?.RunEvents.Where(e => e.EventType == nameof(Contracts.OperatorActionTaken)) ?? [])
            Cli.Out.MarkupLine($"  requested by {Markup.Escape(request.Actor ?? "?")} at {AuditCli.When(request.At)} UTC" +
                               (Text(request.Payload, "reason") is { } reason ? $": {Markup.Escape(AuditCli.Cut(reason, 120) ?? "")}" : ""));
    }

    static string StepName(StoryStep step) => step.Stage switch
    {
        StoryStages.Proposal => "proposed",
        StoryStages.Decision => "decided",
        StoryStages.Approval => Markup.Escape(step.EventType),
        StoryStages.Authorization => "authorized",
        StoryStages.Execution => "started",
        StoryStages.Outcome => "outcome",
        StoryStages.Report => "run report",
        _ => Markup.Escape(step.EventType),
    };

    static string Detail(StoryStep step, ActionStory action) => step.Stage switch
    {
        StoryStages.Proposal when step.Outcome == "malformed" => $"{Markup.Escape(step.ReasonCode ?? "")} · action {Markup.Escape(action.ActionId)}",
        StoryStages.Proposal => Join(action.Intent is { } intent ? $"\"{AuditCli.Cut(intent, 60)}\"" : null,
            action.Arguments is { } args ? AuditCli.Cut(args.GetRawText(), 90) : null, $"action {Markup.Escape(action.ActionId)}"),
        StoryStages.Decision => Join(step.ReasonCode is { } code ? Markup.Escape(code) : null, step.RuleId is { } rule ? $"rule {Markup.Escape(rule)}" : null,
            step.PolicyVersion is { } version ? $"policy {Markup.Escape(version)}" : null, AuditCli.Cut(Text(step.Payload, "reason"), 80)),
        StoryStages.Approval => Join(step.Actor is { } by ? $"by {Markup.Escape(by)}" : null,
            step.EventType == "ApprovalRequested" ? ApprovalAsked(step.Payload) : null,
            AuditCli.Cut(Text(step.Payload, "reason") ?? Text(step.Payload, "comment"), 80)),
        StoryStages.Authorization => Join($"by {Markup.Escape(step.Actor ?? "policy")}", Text(step.Payload, "argumentsHash") is { } hash ? $"arguments {AuditCli.Cut(hash, 24)}" : null),
        StoryStages.Execution => $"by {Markup.Escape(step.Actor ?? "executor")}",
        StoryStages.Outcome when Text(step.Payload, "resolvedBy") is { } by =>
            $"resolved by {Markup.Escape(by)}: {Markup.Escape(step.Outcome)} ({AuditCli.Cut(Text(step.Payload, "evidence"), 80)})",
        StoryStages.Outcome when step.EventType == "ActionSucceeded" => Join(step.ExternalReference is { } reference ? $"ref {Markup.Escape(reference)}" : null,
            step.CostUsd is { } cost ? AuditCli.Usd(cost) : null, Number(step.Payload, "durationMs") is { } ms ? $"{ms} ms" : null),
        StoryStages.Outcome => Join(step.ReasonCode is { } error ? Markup.Escape(error) : null, AuditCli.Cut(Text(step.Payload, "error"), 80),
            Number(step.Payload, "durationMs") is { } ms ? $"{ms} ms" : null),
        _ => Join(step.Actor is { } actor ? $"by {Markup.Escape(actor)}" : null, step.ReasonCode is { } reason ? Markup.Escape(reason) : null),
    };

    /// <summary>"2 of payments-approvers until 14:05:00": what an approval request asked for.</summary>
    static string? ApprovalAsked(JsonElement payload) =>
        Text(payload, "approverGroup") is { } group && Number(payload, "quorum") is { } quorum
            ? $"{quorum} of {Markup.Escape(group)}" + (payload.TryGetProperty("expiresAt", out var until) && until.TryGetDateTimeOffset(out var at)
                ? $" until {AuditCli.Clock(at)}" : "")
            : null;

    static string Join(params string?[] parts) => string.Join(" · ", parts.Where(p => !string.IsNullOrEmpty(p)));

    static string? Text(JsonElement payload, string name) =>
        payload.ValueKind == JsonValueKind.Object && payload.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    static long? Number(JsonElement payload, string name) =>
        payload.ValueKind == JsonValueKind.Object && payload.TryGetProperty(name, out var value) && value.TryGetInt64(out var n) ? n : null;

    static string Count(int value) => value == 0 ? "[grey]0[/]" : value.ToString(CultureInfo.InvariantCulture);

    static string Status(string status) => status switch
    {
        RunStatuses.Succeeded => "[green]succeeded[/]",
        RunStatuses.Failed => "[red]failed[/]",
        _ => "[yellow]running[/]",
    };

    static string Result(string outcome) => outcome switch
    {
        "allowed" or "succeeded" or "authorized" or "proposed" or "started" or "granted" or "approved" or "consumed" => $"[green]{outcome}[/]",
        "denied" or "failed" or "malformed" or "rejected" or "refused" or "outcome_unknown" or "approval_denied" or "approval_expired"
            or "approval_cancelled" or "approval_refused" or "expired" or "cancelled"
            => $"[red]{Markup.Escape(outcome)}[/]",
        _ => $"[yellow]{Markup.Escape(outcome)}[/]",
    };
}
