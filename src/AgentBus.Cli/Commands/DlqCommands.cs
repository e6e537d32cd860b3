using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using AgentBus.Operations.DeadLetters;
using AgentBus.ServiceDefaults.Messaging;
using Spectre.Console;

namespace AgentBus.Cli.Commands;

/// <summary>`agentbus dlq`: dead letters, listed, inspected, replayed to where they came from, or archived.</summary>
static class DlqCommands
{
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static Command Create()
    {
        var broker = new BrokerAddressOptions();
        var management = Cli.ManagementUrl();
        var vhost = Cli.VirtualHost();
        var secrets = Cli.SecretsDirectory();
        var passwordFile = new Option<string?>("--password-file")
        {
            Description = $"The {BrokerIdentity.OperatorUser} broker user's password (default: <secrets-dir>/rabbitmq/{BrokerIdentity.OperatorUser})",
        };
        var operatorName = new Option<string>("--operator")
        {
            Description = "Who is acting, for the audit (default: $AGENTBUS_OPERATOR or the login name)",
            DefaultValueFactory = _ => Cli.Env("AGENTBUS_OPERATOR") ?? Environment.UserName,
        };
        Option[] connection = [.. broker.All, management, vhost, secrets, passwordFile];
        var queue = new Argument<string>("queue") { Description = "A dead-letter queue, e.g. agentbus.policy.proposals_error" };

        OperatorBrokerSettings Settings(ParseResult result)
        {
            var file = result.GetValue(passwordFile) ?? Path.Combine(result.GetValue(secrets)!, "rabbitmq", BrokerIdentity.OperatorUser);
            if (!File.Exists(file))
                throw new UsageException($"No password for the {BrokerIdentity.OperatorUser} broker user at {file}: run `agentbus broker apply`, or pass --secrets-dir or --password-file.");
            var managementUrl = result.GetValue(management)!;
            if (!Uri.TryCreate(managementUrl, UriKind.Absolute, out var managementUri))
                throw new UsageException($"--management-url '{managementUrl}' is not an absolute URL.");
            return new(broker.Address(result), result.GetValue(vhost)!, managementUri, File.ReadAllText(file).Trim());
        }

        string DeadLetterQueue(ParseResult result) =>
            result.GetValue(queue) is { } name && DeadLetterQueues.IsDeadLetterQueue(name)
                ? name
                : throw new UsageException($"'{result.GetValue(queue)}' is not a dead-letter queue: give one whose name ends in _error or _skipped (see `agentbus dlq list`).");

        string Operator(ParseResult result) =>
            result.GetValue(operatorName) is { Length: > 0 } name && !string.IsNullOrWhiteSpace(name)
                ? name.Trim()
                : throw new UsageException("--operator must name who is acting.");

        // list
        var scanLimit = new Option<int>("--scan-limit")
        {
            Description = "Read at most this many messages per queue to group them (default 10000)",
            DefaultValueFactory = _ => 10_000,
        };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of tables" };
        var list = new Command("list", "Every _error and _skipped queue: messages, oldest failure, and failures grouped by exception and message type.")
        {
            scanLimit, json,
        };
        list.SetAction((result, ct) => Cli.Run(async () =>
        {
            var limit = Positive(result, scanLimit);
            await using var broker = await OperatorBroker.ConnectAsync(Settings(result), ct);
            var summaries = await DeadLetterInspector.ListAsync(broker, limit, ct);
            if (result.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(summaries, Json));
                return Cli.Ok;
            }
            PrintList(summaries, DateTimeOffset.UtcNow);
            return Cli.Ok;
        }));

        // show
        var group = new Option<string?>("--group") { Description = "Only this failure group (an id from `agentbus dlq list`)" };
        var limitShown = new Option<int>("--limit") { Description = "Show at most this many messages (default 20)", DefaultValueFactory = _ => 20 };
        var show = new Command("show", "The messages of one dead-letter queue with their fault headers, action id and run id.")
        {
            queue, group, limitShown, json,
        };
        show.SetAction((result, ct) => Cli.Run(async () =>
        {
            var limit = Positive(result, limitShown);
            var deadLetters = DeadLetterQueue(result);
            await using var broker = await OperatorBroker.ConnectAsync(Settings(result), ct);
            var (total, messages) = await DeadLetterInspector.ShowAsync(broker, deadLetters, result.GetValue(group), limit, ct);
            if (result.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(messages.Select(View), Json));
                return Cli.Ok;
            }
            PrintMessages(deadLetters, total, messages);
            return Cli.Ok;
        }));

        // replay
        var messageId = new Option<string?>("--message-id") { Description = "Only the message with this AMQP message id" };
        var all = new Option<bool>("--all") { Description = "Every message in the queue" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print what would happen; change nothing" };
        var rate = new Option<double?>("--rate") { Description = "At most N messages per second" };
        var replay = new Command("replay", "Put dead letters back on the queue they came from, keeping their message ids; each original is removed only after the broker confirmed its copy. Recorded in the audit.")
        {
            queue, group, messageId, all, dryRun, rate, operatorName,
        };
        replay.SetAction((result, ct) => Cli.Run(async () =>
        {
            var deadLetters = DeadLetterQueue(result);
            var selection = Selection(result, group, messageId, all);
            if (result.GetValue(rate) is { } perSecond && (perSecond <= 0 || double.IsNaN(perSecond) || double.IsInfinity(perSecond)))
                throw new UsageException("--rate must be a positive number of messages per second.");
            var who = Operator(result);
            await using var broker = await OperatorBroker.ConnectAsync(Settings(result), ct);
            var replayer = new DeadLetterReplayer(TimeProvider.System);
            var report = await replayer.ReplayAsync(broker, deadLetters, selection, who,
                new ReplayOptions(result.GetValue(dryRun), result.GetValue(rate)), PrintReplayed, ct);
            var leftInPlace = report.Messages.Count(m => m.Outcome == ReplayOutcome.LeftInPlace);
            if (result.GetValue(dryRun))
                AnsiConsole.MarkupLine($"Dry run: {report.Messages.Count(m => m.Outcome == ReplayOutcome.WouldReplay)} message(s) of {Markup.Escape(report.Queue)} " +
                                       $"would go back to {Markup.Escape(report.Target)}; nothing was changed.");
            else
                AnsiConsole.MarkupLine($"Replayed {report.Replayed} message(s) from {Markup.Escape(report.Queue)} to {Markup.Escape(report.Target)} as {Markup.Escape(who)}" +
                                       $" (audit event{(report.AuditEventIds.Count == 1 ? "" : "s")}: {string.Join(", ", report.AuditEventIds)}).");
            if (leftInPlace > 0)
                AnsiConsole.MarkupLine($"[yellow]{leftInPlace} selected message(s) were left in place: their fault headers name another queue.[/]");
            if (report.Messages.Count == 0)
                AnsiConsole.MarkupLine($"No message in {Markup.Escape(report.Queue)} matched {Markup.Escape(selection.ToString())}.");
            return Cli.Ok;
        }));

        // purge
        var reason = new Option<string?>("--reason") { Description = "Why these messages are being removed (kept with each archived message and in the audit)" };
        var yes = new Option<bool>("--yes") { Description = "Really do it (without it, purge only shows what it would archive)" };
        var postgres = Cli.Postgres();
        var purge = new Command("purge", "Move dead letters to the dead_letter_archive table in PostgreSQL with a reason (never a silent delete). Needs --yes. Recorded in the audit.")
        {
            queue, group, messageId, all, reason, yes, postgres, operatorName,
        };
        purge.SetAction((result, ct) => Cli.Run(async () =>
        {
            var deadLetters = DeadLetterQueue(result);
            var selection = Selection(result, group, messageId, all);
            var why = result.GetValue(reason);
            if (string.IsNullOrWhiteSpace(why))
                throw new UsageException("--reason is required: say why these messages are being removed.");
            var who = Operator(result);
            var confirmed = result.GetValue(yes);
            var connectionString = confirmed ? Cli.Required(result, postgres, "the database holding dead_letter_archive") : "";
            await using var broker = await OperatorBroker.ConnectAsync(Settings(result), ct);
            var purger = new DeadLetterPurger(new DeadLetterArchive(connectionString), TimeProvider.System);
            var report = await purger.PurgeAsync(broker, deadLetters, selection, who, why.Trim(), dryRun: !confirmed, PrintPurged, ct);
            if (!confirmed)
            {
                AnsiConsole.MarkupLine($"{report.Messages.Count} message(s) of {Markup.Escape(report.Queue)} would be archived and removed; " +
                                       "nothing was changed. Run again with --yes to do it.");
                return report.Messages.Count == 0 ? Cli.Ok : Cli.BadInput;
            }
            AnsiConsole.MarkupLine($"Archived and removed {report.Purged} message(s) from {Markup.Escape(report.Queue)} as {Markup.Escape(who)}" +
                                   (report.AuditEventIds.Count > 0 ? $" (audit event{(report.AuditEventIds.Count == 1 ? "" : "s")}: {string.Join(", ", report.AuditEventIds)})." : "."));
            return Cli.Ok;
        }));

        var dlq = new Command("dlq", $"Dead letters (*_error and *_skipped queues), as the {BrokerIdentity.OperatorUser} broker user.")
        {
            list, show, replay, purge,
        };
        foreach (var option in connection)
            dlq.Options.Add(option);
        foreach (var option in connection)
            option.Recursive = true;
        return dlq;
    }

    static int Positive(ParseResult result, Option<int> option) =>
        result.GetValue(option) is var value && value > 0 ? value : throw new UsageException($"{option.Name} must be a positive number.");

    static DeadLetterSelection Selection(ParseResult result, Option<string?> group, Option<string?> messageId, Option<bool> all)
    {
        try
        {
            return DeadLetterSelection.From(result.GetValue(group), result.GetValue(messageId), result.GetValue(all));
        }
        catch (ArgumentException ex)
        {
            throw new UsageException(ex.Message);
        }
    }

    static object View(DeadLetter m) => new
    {
        m.MessageId,
        m.MessageType,
        m.GroupId,
        ExceptionType = m.Failure,
        m.ExceptionMessage,
        m.ConsumerType,
        m.InputAddress,
        m.RetryCount,
        m.FaultedAt,
        m.ActionId,
        m.RunId,
        m.OriginalSender,
    };

    static void PrintList(IReadOnlyList<DeadLetterQueueSummary> summaries, DateTimeOffset now)
    {
        if (summaries.Count == 0)
        {
            AnsiConsole.MarkupLine("No dead-letter queues: nothing has failed.");
            return;
        }
        var queues = new Table().AddColumns("queue", "messages", "oldest");
        foreach (var s in summaries)
            queues.AddRow(Markup.Escape(s.Queue), s.Messages.ToString(CultureInfo.InvariantCulture), Age(s.Oldest, now));
        AnsiConsole.Write(queues);

        var groups = new Table().AddColumns("group", "queue", "exception", "message type", "count", "oldest", "newest", "example");
        foreach (var s in summaries)
            foreach (var g in s.Groups)
                groups.AddRow(g.GroupId, Markup.Escape(s.Queue), Markup.Escape(g.Failure), Markup.Escape(g.MessageType),
                    g.Count.ToString(CultureInfo.InvariantCulture), Age(g.Oldest, now), Age(g.Newest, now), Markup.Escape(OneLine(g.Example, 80)));
        if (groups.Rows.Count > 0)
            AnsiConsole.Write(groups);
        foreach (var s in summaries.Where(s => s.Scanned < s.Messages))
            AnsiConsole.MarkupLine($"[yellow]{Markup.Escape(s.Queue)}: groups from the first {s.Scanned} of {s.Messages} messages (--scan-limit).[/]");
    }

    static void PrintMessages(string queue, long total, IReadOnlyList<DeadLetter> messages)
    {
        var table = new Table().AddColumns("message id", "type", "group", "exception", "consumer", "input address", "retries", "failed at", "action id", "run id", "sender");
        foreach (var m in messages)
            table.AddRow(Markup.Escape(m.MessageId ?? "(none)"), Markup.Escape(m.MessageType), m.GroupId,
                Markup.Escape(m.Failure + (m.ExceptionMessage is null ? "" : ": " + OneLine(m.ExceptionMessage, 160))),
                Markup.Escape(m.ConsumerType ?? ""), Markup.Escape(m.InputAddress ?? ""), m.RetryCount?.ToString(CultureInfo.InvariantCulture) ?? "",
                m.FaultedAt?.ToString("u", CultureInfo.InvariantCulture) ?? "", Markup.Escape(m.ActionId ?? ""), Markup.Escape(m.RunId ?? ""),
                Markup.Escape(m.OriginalSender ?? ""));
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"{messages.Count} shown; {total} in {Markup.Escape(queue)}.");
    }

    static void PrintReplayed(ReplayedMessage item) =>
        AnsiConsole.MarkupLine($"{item.Outcome switch
        {
            ReplayOutcome.Replayed => "[green]replayed[/]",
            ReplayOutcome.WouldReplay => "would replay",
            _ => "[yellow]left in place[/]",
        }} {Markup.Escape(item.Message.MessageId ?? "(no id)")} {Markup.Escape(item.Message.MessageType)}" +
                               $"{(item.Message.ActionId is null ? "" : " action " + Markup.Escape(item.Message.ActionId))}: {Markup.Escape(item.Detail)}");

    static void PrintPurged(PurgedMessage item) =>
        AnsiConsole.MarkupLine($"{(item.ArchiveId is { } id ? $"[green]archived[/] (row {id})" : "would archive")} " +
                               $"{Markup.Escape(item.Message.MessageId ?? "(no id)")} {Markup.Escape(item.Message.MessageType)}" +
                               $"{(item.Message.ActionId is null ? "" : " action " + Markup.Escape(item.Message.ActionId))}");

    static string OneLine(string? text, int max)
    {
        if (string.IsNullOrEmpty(text))
            return "";
        var line = text.ReplaceLineEndings(" ");
        return line.Length <= max ? line : line[..max] + "…";
    }

    static string Age(DateTimeOffset? at, DateTimeOffset now)
    {
        if (at is not { } time)
            return "?";
        var age = now - time;
        if (age < TimeSpan.Zero)
            age = TimeSpan.Zero;
        return age.TotalDays >= 1 ? $"{(int)age.TotalDays}d {age.Hours}h"
            : age.TotalHours >= 1 ? $"{(int)age.TotalHours}h {age.Minutes}m"
            : age.TotalMinutes >= 1 ? $"{(int)age.TotalMinutes}m {age.Seconds}s"
            : $"{(int)age.TotalSeconds}s";
    }
}
