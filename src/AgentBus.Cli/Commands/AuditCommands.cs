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
        var anchor = new Option<string?>("--anchor")
        {
            Description = "Anchor file (`audit anchor --out`): also check that every anchored row still has the anchored hash, " +
                "which catches a chain rewritten and recomputed by the database's owner",
        };
        var verify = new Command("verify",
            "Recompute the audit log's hash chain and name the first row that was edited, deleted or reordered; with --anchor, " +
            "also rewritten since it was anchored. Exit 0: intact; 3: tampered with; 1: could not check.")
        {
            postgres, maxProblems, json, anchor,
        };
        verify.SetAction((result, ct) => Cli.Run(async () =>
        {
            var anchors = ReadAnchors(result.GetValue(anchor), mustExist: true);
            await using var dataSource = AuditCli.DataSource(result, postgres);
            var verification = await AuditVerifier.VerifyAsync(dataSource, anchors, Math.Max(1, result.GetValue(maxProblems)), ct);
            if (result.GetValue(json))
                AuditCli.WriteJson(verification);
            else
                Print(verification);
            return verification.Intact ? Cli.Ok : Cli.CheckFailed;
        }));

        var anchorPostgres = Cli.Postgres();
        var output = new Option<string>("--out")
        {
            Description = "Anchor file to append the head to (created when missing); keep it, or copies of it, off the database host",
            Required = true,
        };
        var anchorCommand = new Command("anchor",
            "Verify the chain (against the anchors already in --out), then append its head (row, hash, time) to --out. Run it on a " +
            "schedule from a host the database's administrators cannot write to. Exit 0: anchored; 3: the chain is broken, nothing appended.")
        {
            anchorPostgres, output,
        };
        anchorCommand.SetAction((result, ct) => Cli.Run(async () =>
        {
            var file = result.GetValue(output)!;
            var anchors = ReadAnchors(file, mustExist: false);
            await using var dataSource = AuditCli.DataSource(result, anchorPostgres);
            var verification = await AuditVerifier.VerifyAsync(dataSource, anchors, 20, ct);
            if (!verification.Intact)
            {
                Print(verification);
                Cli.Out.MarkupLine($"[red]Not anchored:[/] the chain is not intact, and {Markup.Escape(file)} is left as it was.");
                return Cli.CheckFailed;
            }
            var line = AuditAnchors.Append(file, new AuditAnchor(verification.HeadSeq, Convert.FromHexString(verification.HeadHash), DateTimeOffset.UtcNow));
            Cli.Out.MarkupLine($"Anchored head #{verification.HeadSeq} ({verification.RowsChecked} row(s) verified" +
                $"{(anchors.Count > 0 ? $", {anchors.Count} earlier anchor(s) matched" : "")}) to {Markup.Escape(file)}: {Markup.Escape(line)}");
            return Cli.Ok;
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

        return new Command("audit", "The hash-chained audit log.") { verify, anchorCommand, Events(), purge };
    }

    static Command Events()
    {
        var postgres = Cli.Postgres();
        var type = new Option<string?>("--type") { Description = "Only this event type, e.g. OperatorActionTaken, ActionFailed, RunCompleted" };
        var agent = AuditCli.Agent();
        var action = new Option<string?>("--action") { Description = "Only this action id" };
        var run = new Option<string?>("--run") { Description = "Only this run id" };
        var since = AuditCli.Since("no limit");
        var limit = new Option<int>("--limit") { Description = "At most this many (newest first)", DefaultValueFactory = _ => 100 };
        var json = AuditCli.AsJson();
        var command = new Command("events", "List audit rows, newest first: operator actions, refusals, rejected reports, anything.")
        {
            postgres, type, agent, action, run, since, limit, json,
        };
        command.SetAction((result, ct) => Cli.Run(async () =>
        {
            var filter = new AuditEventFilter(result.GetValue(type), result.GetValue(agent), result.GetValue(action), result.GetValue(run),
                AuditCli.Time(result.GetValue(since), "--since", DateTimeOffset.UtcNow),
                result.GetValue(limit) is var n and > 0 ? n : throw new UsageException("--limit must be 1 or more."));
            await using var dataSource = AuditCli.DataSource(result, postgres);
            var rows = await new AuditEventQuery(dataSource).ListAsync(filter, ct);
            if (result.GetValue(json))
            {
                AuditCli.WriteJson(rows.Select(r => new
                {
                    r.Seq, r.EventId, r.EventType, r.ActionId, r.RunId, r.AgentId, r.Tool, r.Outcome, r.ReasonCode, r.RuleId, r.PolicyVersion,
                    r.Actor, r.CorrelationId, r.ExternalReference, r.CostUsd, Payload = System.Text.Json.JsonDocument.Parse(r.Payload).RootElement,
                    r.OccurredAt, r.RecordedAt, Hash = AuditChain.Hex(r.Hash),
                }));
                return Cli.Ok;
            }

            var table = new Table().AddColumns("#", "time (UTC)", "event", "agent", "tool", "run", "action", "outcome", "reason", "by");
            foreach (var r in rows)
                table.AddRow($"{r.Seq}", AuditCli.When(r.OccurredAt), Markup.Escape(r.EventType), AuditCli.Cut(r.AgentId, 24), AuditCli.Cut(r.Tool, 24),
                    AuditCli.Cut(r.RunId, 32), AuditCli.Cut(r.ActionId, 36), Markup.Escape(r.Outcome), AuditCli.Cut(r.ReasonCode, 32), AuditCli.Cut(r.Actor, 32));
            Cli.Out.Write(table);
            Cli.Out.MarkupLine($"{rows.Count} row(s).");
            return Cli.Ok;
        }));
        return command;
    }

    static IReadOnlyList<AuditAnchor> ReadAnchors(string? file, bool mustExist)
    {
        if (string.IsNullOrWhiteSpace(file) || (!mustExist && !File.Exists(file)))
            return [];
        if (!File.Exists(file))
            throw new UsageException($"Anchor file {file} does not exist.");
        try
        {
            return AuditAnchors.Read(file);
        }
        catch (AuditAnchorFormatException ex)
        {
            throw new UsageException(ex.Message);
        }
    }

    static void Print(AuditVerification verification)
    {
        if (verification.Intact)
        {
            Cli.Out.MarkupLine($"[green]Audit chain intact:[/] {verification.RowsChecked} row(s), head #{verification.HeadSeq} {verification.HeadHash[..16]}…" +
                (verification.AnchorsChecked > 0 ? $", {verification.AnchorsChecked} anchor(s) match" : ""));
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
        ChainProblemKind.Rewritten => "[red]rewritten[/]",
        _ => "[red]reordered[/]",
    };
}
