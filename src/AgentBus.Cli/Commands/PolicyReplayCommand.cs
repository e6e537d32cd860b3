using System.CommandLine;
using System.Globalization;
using AgentBus.Cli.Replay;
using AgentBus.Contracts;
using AgentBus.Policy.Engine;
using AgentBus.Policy.Versions;
using Spectre.Console;

namespace AgentBus.Cli.Commands;

/// <summary>`agentbus policy replay CANDIDATE`: what a policy change would have decided on recorded traffic, gateable in CI.</summary>
static class PolicyReplayCommand
{
    static readonly string[] Transitions =
        [.. from a in Enum.GetValues<Decision>() from b in Enum.GetValues<Decision>() where a != b
            select DecisionComparison.Transition(a, b).Replace("→", "-to-", StringComparison.Ordinal)];

    public static Command Create()
    {
        var candidate = new Argument<string>("CANDIDATE") { Description = "The candidate: a policy file, or a recorded version (sha256:… or a prefix)" };
        var since = AuditCli.Since("7d");
        var until = AuditCli.Until();
        var agent = AuditCli.Agent();
        var tool = new Option<string?>("--tool") { Description = "Only this tool" };
        var failOn = new Option<string?>("--fail-on")
        {
            Description = $"Exit 3 when any of these transitions occurs (comma-separated: {string.Join(", ", Transitions)})",
        };
        var stateless = new Option<bool>("--stateless") { Description = "Compare only the stateless steps; do not simulate rates, run caps and budgets" };
        var postgres = Cli.Postgres();
        var json = AuditCli.AsJson();
        var command = new Command("replay",
            "Re-decide recorded proposals (from the audit) against a candidate policy, in order, and report each change of decision by rule, " +
            "with how approvers decided on the actions that would no longer need them.")
        {
            candidate, since, until, agent, tool, failOn, stateless, postgres, json,
        };
        command.SetAction((result, ct) => Cli.Run(async () =>
        {
            var now = DateTimeOffset.UtcNow;
            var from = AuditCli.Time(result.GetValue(since), "--since", now) ?? now.AddDays(-7);
            var to = AuditCli.Time(result.GetValue(until), "--until", now) ?? now;
            var forbidden = ParseFailOn(result.GetValue(failOn));

            await using var dataSource = AuditCli.DataSource(result, postgres);
            var name = result.GetValue(candidate)!;
            var policy = File.Exists(name) || !PolicyHistoryCommands.LooksLikeVersion(name)
                ? PolicyCommands.Load(name)
                : await PolicyHistoryCommands.LoadVersionAsync(new PolicyVersionStore(dataSource), name, ct);

            var replay = new PolicyReplay(policy, result.GetValue(stateless) ? null : new AdmissionModel());
            var report = await replay.RunAsync(new RecordedProposals(dataSource).ReadAsync(from, to, result.GetValue(agent), result.GetValue(tool), ct), from, to, ct);
            var broken = report.Transitions.Where(t => forbidden.Contains(t.Transition)).ToList();

            if (result.GetValue(json))
                AuditCli.WriteJson(new { report, forbiddenTransitions = broken.Select(b => b.Transition).Distinct() });
            else
                Print(report, broken);
            return broken.Count > 0 ? Cli.CheckFailed : Cli.Ok;
        }));
        return command;
    }

    static HashSet<string> ParseFailOn(string? text)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var part in (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var name = part.Replace("→", "-to-", StringComparison.Ordinal).ToLowerInvariant();
            if (!Transitions.Contains(name))
                throw new UsageException($"--fail-on: '{part}' is not a transition; use {string.Join(", ", Transitions)}.");
            set.Add(name.Replace("-to-", "→", StringComparison.Ordinal));
        }
        return set;
    }

    static void Print(ReplayReport report, IReadOnlyList<TransitionGroup> broken)
    {
        Cli.Out.MarkupLine($"Replay of {report.Proposals} recorded proposal(s) from {AuditCli.When(report.Since)} to {AuditCli.When(report.Until)} UTC " +
                           $"against candidate [bold]{Markup.Escape(report.CandidateVersion)}[/]:");
        Cli.Out.MarkupLine($"  {report.Replayed} replayed · {report.Unchanged} decided the same · {report.Replayed - report.Unchanged} decided differently · " +
                           $"{report.NotReplayable.Sum(n => n.Count)} not replayable · " +
                           $"{report.ProposalsPerSecond.ToString("N0", CultureInfo.InvariantCulture)} proposals/s re-decided");
        Cli.Out.MarkupLine($"  state model: {Markup.Escape(report.StateModel)}");
        if (report.Transitions.Count > 0)
        {
            var table = new Table().AddColumns("transition", "candidate rule", "reason code", "count", "live rule(s)", "examples", "candidate's reason (one example)");
            foreach (var group in report.Transitions)
                table.AddRow((broken.Contains(group) ? "[red]" : "[bold]") + Markup.Escape(group.Transition) + "[/]", Markup.Escape(group.CandidateRule ?? ""),
                    Markup.Escape(group.CandidateReasonCode), $"{group.Count}", Markup.Escape(string.Join(", ", group.LiveRules)),
                    Markup.Escape(string.Join(" ", group.Examples)), Markup.Escape(AuditCli.Cut(group.ExampleReason, 100) ?? ""));
            Cli.Out.Write(table);
        }
        var history = report.NoLongerNeedApproval;
        if (history.Total > 0)
            Cli.Out.MarkupLine($"  {history.Total} action(s) needed approval and would not: people [green]approved {history.Approved}[/], " +
                               $"[red]denied {history.Denied}[/], let {history.Expired} expire, {history.Cancelled} were cancelled, {history.Refused} refused, " +
                               $"{history.Pending} still pending.");
        foreach (var skipped in report.NotReplayable)
            Cli.Out.MarkupLine($"  not replayable: {skipped.Count} × {Markup.Escape(skipped.Reason)}" +
                               (skipped.Examples.Count > 0 ? $" (e.g. {Markup.Escape(string.Join(" ", skipped.Examples))})" : ""));
        if (broken.Count > 0)
            Cli.Out.MarkupLine($"[red]Forbidden transition(s) occurred: {Markup.Escape(string.Join(", ", broken.Select(b => b.Transition).Distinct()))}[/]");
    }
}
