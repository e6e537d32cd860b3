using System.CommandLine;
using System.Globalization;
using AgentBus.Audit.Gates;
using AgentBus.Operations.Gates;
using AgentBus.Policy.Engine;
using Spectre.Console;

namespace AgentBus.Cli.Commands;

/// <summary>
/// The pilot-to-autopilot gates, per agent and tool, against the targets in ops/gates.yaml.
/// Exit 0: every gate passes; 3: a gate failed or lacks the data to judge; 2: bad arguments or
/// configuration; 1: the database could not be read.
/// </summary>
static class GatesCommand
{
    public const string DefaultConfig = "ops/gates.yaml";

    public static Command Create()
    {
        var postgres = Cli.Postgres();
        var agent = AuditCli.Agent();
        var tool = new Option<string?>("--tool") { Description = "Only this tool" };
        var since = AuditCli.Since("the window in the gates file (30d)");
        var config = new Option<string?>("--config") { Description = $"Gates file with the targets (default: {DefaultConfig} when it exists, else built-in defaults)" };
        var policy = new Option<string?>("--policy") { Description = "Policy whose grants are counted (default: the gates file's 'policy')" };
        var json = AuditCli.AsJson();
        var command = new Command("gates",
            "Per agent and tool: completion rate, critical error rate on writes, cost per successful run, audit coverage and write grants " +
            "that need no approval, against configured targets. Exits 3 when a gate fails, for promotion checks.")
        {
            postgres, agent, tool, since, config, policy, json,
        };
        command.SetAction((result, ct) => Cli.Run(async () =>
        {
            var (gates, baseDirectory) = LoadConfig(result.GetValue(config));
            var now = DateTimeOffset.UtcNow;
            var from = AuditCli.Time(result.GetValue(since), "--since", now) ?? now - gates.WindowSpan;
            var grants = LoadGrants(result.GetValue(policy) ?? (gates.Policy is { } p ? Path.Combine(baseDirectory, p) : null));

            await using var dataSource = AuditCli.DataSource(result, postgres);
            var facts = await new GateQuery(dataSource).GetAsync(from, result.GetValue(agent), result.GetValue(tool), gates, grants, ct);
            var report = GateEvaluator.Evaluate(from, facts, gates);
            if (result.GetValue(json))
                AuditCli.WriteJson(report);
            else
                Print(report);
            return report.Passed ? Cli.Ok : Cli.CheckFailed;
        }));
        return command;
    }

    static (GateConfig Config, string BaseDirectory) LoadConfig(string? path)
    {
        if (path is not null)
            return (GateConfig.Load(path), Path.GetDirectoryName(Path.GetFullPath(path))!);
        if (File.Exists(DefaultConfig))
            return (GateConfig.Load(DefaultConfig), Path.GetDirectoryName(Path.GetFullPath(DefaultConfig))!);
        return (new GateConfig(), Directory.GetCurrentDirectory());
    }

    /// <summary>
    /// Each grant of the policy and whether it asks people to approve (a grant with an approval rule
    /// counts as gated even when its condition spares small actions).
    /// </summary>
    static IReadOnlyList<GrantInfo> LoadGrants(string? path)
    {
        if (path is null)
            throw new UsageException("Which policy? Pass --policy FILE or set 'policy' in the gates file: the grants are one of the gates.");
        var loaded = PolicyLoader.LoadFile(path);
        if (loaded.Policy is not { } snapshot)
            throw new UsageException(string.Join(Environment.NewLine, loaded.Errors));
        return GateGrants.Of(snapshot);
    }

    static void Print(GateReport report)
    {
        var table = new Table().AddColumns("agent", "tool", "runs", "completion", "critical errors", "cost / success", "audit coverage",
            "unapproved write grants");
        foreach (var row in report.Rows)
        {
            var f = row.Facts;
            string Cell(string gate)
            {
                var r = row.Results.Single(x => x.Gate == gate);
                var value = gate switch
                {
                    GateNames.CostPerSuccessfulRun => r.Value is { } usd ? AuditCli.Usd(usd) : "—",
                    GateNames.UnapprovedWriteGrants => r.Value?.ToString("0", CultureInfo.InvariantCulture) ?? "—",
                    _ => AuditCli.Percent(r.Value),
                };
                var target = r.Target is null ? "" : gate switch
                {
                    GateNames.CostPerSuccessfulRun => $" (≤ {AuditCli.Usd(r.Target.Value)})",
                    GateNames.UnapprovedWriteGrants => $" (≤ {r.Target.Value:0})",
                    GateNames.CriticalErrorRate => $" (≤ {AuditCli.Percent(r.Target)})",
                    _ => $" (≥ {AuditCli.Percent(r.Target)})",
                };
                return r.Status switch
                {
                    GateStatus.Pass => $"[green]{value}{target} ✓[/]",
                    GateStatus.Fail => $"[red]{value}{target} ✗[/]",
                    GateStatus.NoData => $"[yellow]no data{target}[/]",
                    _ => value,
                };
            }
            table.AddRow(Markup.Escape(f.AgentId), f.Tool is null ? "[bold](all)[/]" : Markup.Escape(f.Tool), $"{f.Runs}",
                Cell(GateNames.CompletionRate), Cell(GateNames.CriticalErrorRate), Cell(GateNames.CostPerSuccessfulRun),
                Cell(GateNames.AuditCoverage), Cell(GateNames.UnapprovedWriteGrants));
        }
        Cli.Out.Write(table);

        var failing = report.Rows.SelectMany(r => r.Results.Where(x => x.Status is GateStatus.Fail or GateStatus.NoData)
            .Select(x => (Row: r, Result: x))).ToList();
        if (report.Rows.Count == 0)
            Cli.Out.MarkupLine($"No agent has activity or grants since {AuditCli.When(report.Since)} UTC.");
        else if (failing.Count == 0)
            Cli.Out.MarkupLine($"[green]All gates pass[/] (since {AuditCli.When(report.Since)} UTC).");
        else
        {
            Cli.Out.MarkupLine($"[red]{failing.Count} gate(s) not passed[/] (since {AuditCli.When(report.Since)} UTC):");
            foreach (var (row, gate) in failing)
                Cli.Out.MarkupLine($"  {Markup.Escape(row.Facts.AgentId)}/{Markup.Escape(row.Facts.Tool ?? "(all)")} {gate.Gate}: " +
                                   $"{(gate.Status == GateStatus.NoData ? "not enough data" : "failed")} ({Markup.Escape(gate.Detail)})");
        }
    }
}
