using System.CommandLine;
using AgentBus.Audit;
using AgentBus.Audit.Chain;
using Spectre.Console;

namespace AgentBus.Cli.Commands;

static class AuditCommands
{
    public static Command Create()
    {
        var postgres = Cli.Postgres();
        var maxProblems = new Option<int>("--max-problems") { Description = "Problems to list (all are counted)", DefaultValueFactory = _ => 20 };
        var json = AuditCli.AsJson();
        var verify = new Command("verify",
            "Recompute the audit log's hash chain and name the first row that was edited, deleted or reordered. " +
            "Exit 0: intact; 3: tampered with; 1: could not check.")
        {
            postgres, maxProblems, json,
        };
        verify.SetAction((result, ct) => Cli.Run(async () =>
        {
            await using var dataSource = AuditCli.DataSource(result, postgres);
            var verification = await AuditVerifier.VerifyAsync(dataSource, Math.Max(1, result.GetValue(maxProblems)), ct);
            if (result.GetValue(json))
                AuditCli.WriteJson(verification);
            else
                Print(verification);
            return verification.Intact ? Cli.Ok : Cli.CheckFailed;
        }));

        var purgePostgres = Cli.Postgres();
        var purge = new Command("purge-raw",
            "Delete the raw (unredacted) payloads past their retention now; the projections host also does it on a timer.")
        {
            purgePostgres,
        };
        purge.SetAction((result, ct) => Cli.Run(async () =>
        {
            await using var dataSource = AuditCli.DataSource(result, purgePostgres);
            var total = await RawPayloads.PurgeExpiredAsync(dataSource, ct);
            Cli.Out.MarkupLine($"Purged {total} expired raw payload(s).");
            return Cli.Ok;
        }));

        return new Command("audit", "The hash-chained audit log.") { verify, purge };
    }

    static void Print(AuditVerification verification)
    {
        if (verification.Intact)
        {
            Cli.Out.MarkupLine($"[green]Audit chain intact:[/] {verification.RowsChecked} row(s), head #{verification.HeadSeq} {verification.HeadHash[..16]}…");
            return;
        }

        var first = verification.First!;
        Cli.Out.MarkupLine($"[red]Audit chain broken:[/] {verification.ProblemsFound} problem(s) in {verification.RowsChecked} row(s).");
        Cli.Out.MarkupLine($"First: row [bold]#{first.Seq}[/] {Kind(first.Kind)}{(first.EventId is { } id ? $" (event {id}, {Markup.Escape(first.EventType ?? "")})" : "")}: {Markup.Escape(first.Detail)}");
        var table = new Table().AddColumns("row", "what", "event", "detail");
        foreach (var problem in verification.Problems)
            table.AddRow($"#{problem.Seq}", Kind(problem.Kind), problem.EventId is { } e ? $"{e} {Markup.Escape(problem.EventType ?? "")}" : "",
                Markup.Escape(problem.Detail));
        Cli.Out.Write(table);
    }

    static string Kind(ChainProblemKind kind) => kind switch
    {
        ChainProblemKind.Edited => "[red]edited[/]",
        ChainProblemKind.Deleted => "[red]deleted[/]",
        _ => "[red]reordered[/]",
    };
}
