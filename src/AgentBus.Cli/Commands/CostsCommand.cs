using System.CommandLine;
using AgentBus.Audit.Reports;
using Spectre.Console;

namespace AgentBus.Cli.Commands;

static class CostsCommand
{
    public static Command Create()
    {
        var postgres = Cli.Postgres();
        var agent = AuditCli.Agent();
        var since = AuditCli.Since("30d");
        var until = AuditCli.Until();
        var json = AuditCli.AsJson();
        var command = new Command("costs",
            "Cost per agent and day (UTC, by the day a run started) and cost per successful run: everything the runs cost, failed ones included, over the runs their agent reported successful.")
        {
            postgres, agent, since, until, json,
        };
        command.SetAction((result, ct) => Cli.Run(async () =>
        {
            var now = DateTimeOffset.UtcNow;
            var from = AuditCli.Time(result.GetValue(since), "--since", now) ?? now.AddDays(-30);
            await using var dataSource = AuditCli.DataSource(result, postgres);
            var report = await new CostReportQuery(dataSource).GetAsync(result.GetValue(agent), from,
                AuditCli.Time(result.GetValue(until), "--until", now), ct);
            if (result.GetValue(json))
            {
                AuditCli.WriteJson(report);
                return Cli.Ok;
            }

            var table = new Table().AddColumns("day", "agent", "runs", "successful", "failed", "not reported", "cost", "cost per successful run");
            foreach (var day in report.Days)
                Row(table, day.Day.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), day);
            if (report.AgentTotals.Count > 1)
                foreach (var total in report.AgentTotals)
                    Row(table, "[bold]total[/]", total);
            Row(table, "[bold]total[/]", report.Total);
            Cli.Out.Write(table);
            Cli.Out.MarkupLine($"Since {AuditCli.When(from)} UTC. Settled costs from the cost ledger: tool calls at their actual cost, plus inference spend agents reported.");
            return Cli.Ok;
        }));
        return command;
    }

    static void Row(Table table, string day, CostRow row) =>
        table.AddRow(day, Markup.Escape(row.AgentId), $"{row.Runs}", $"{row.SuccessfulRuns}", $"{row.FailedRuns}", $"{row.UnreportedRuns}",
            AuditCli.Usd(row.CostUsd), row.CostPerSuccessfulRunUsd is { } perRun ? AuditCli.Usd(perRun) : "—");
}
