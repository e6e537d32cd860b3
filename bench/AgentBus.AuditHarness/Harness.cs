using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using AgentBus.Audit.Chain;
using AgentBus.Audit.Redaction;
using AgentBus.Contracts;
using AgentBus.Projections.Audit;
using AgentBus.ServiceDefaults.Database;
using AgentBus.ServiceDefaults.Messaging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AgentBus.AuditHarness;

/// <summary>
/// The audit throughput harness. Usage:
///   agentbus-audit-harness [--events N] [--batch N] [--writers N] [--postgres-admin CONN] [--timeout SECONDS] [--keep-database]
/// The admin connection (default $AGENTBUS_POSTGRES_ADMIN) must be allowed to create databases and
/// roles; the scratch database is dropped at the end unless --keep-database.
/// </summary>
static class Harness
{
    sealed record Settings(int Events, int Batch, int Writers, string Admin, TimeSpan Timeout, bool Keep);

    public static async Task<int> RunAsync(string[] args)
    {
        Settings settings;
        try
        {
            settings = Parse(args);
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            Console.Error.WriteLine("usage: agentbus-audit-harness [--events N] [--batch N] [--writers N] [--postgres-admin CONN] [--timeout SECONDS] [--keep-database]");
            return 2;
        }

        using var deadline = new CancellationTokenSource(settings.Timeout);
        var database = $"agentbus_audit_bench_{Guid.NewGuid():N}"[..32];
        var connectionString = new NpgsqlConnectionStringBuilder(settings.Admin)
        {
            Database = database,
            MaxPoolSize = settings.Writers + 4,
        }.ConnectionString;

        try
        {
            await ExecuteAsync(settings.Admin, $"CREATE DATABASE \"{database}\"", deadline.Token);
        }
        catch (NpgsqlException ex)
        {
            Console.Error.WriteLine($"error: cannot create the scratch database on {Describe(settings.Admin)}: {ex.Message}");
            return 1;
        }

        try
        {
            // The policy's too: recording an outcome settles its budget (policy_settle_outcomes) in the same transaction.
            await DatabaseMigrator.ApplyAsync(connectionString, NullLogger.Instance,
                [MigrationSet.Platform, AgentBus.Projections.ProjectionsHostExtensions.Migrations, AgentBus.Policy.PolicyHostExtensions.Migrations],
                deadline.Token);
            await using var dataSource = NpgsqlDataSource.Create(connectionString);
            return await MeasureAsync(settings, dataSource, database, deadline.Token);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            Console.Error.WriteLine($"error: the harness did not finish within {settings.Timeout.TotalSeconds:0} s (--timeout).");
            return 1;
        }
        catch (NpgsqlException ex)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return 1;
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            if (settings.Keep)
                Console.WriteLine($"kept database {database}");
            else
                await ExecuteAsync(settings.Admin, $"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)", CancellationToken.None);
        }
    }

    static async Task<int> MeasureAsync(Settings settings, NpgsqlDataSource dataSource, string database, CancellationToken ct)
    {
        var conditions = await ConditionsAsync(dataSource, ct);
        var messages = Workload.Generate(settings.Events);
        var batches = messages.Chunk(settings.Batch).ToArray();
        var store = new AuditStore(dataSource, new AuditRedactor(Workload.Redaction), Options.Create(new AuditOptions()), TimeProvider.System,
            NullLogger<AuditStore>.Instance);

        Console.WriteLine($"AgentBus audit harness: {messages.Count} events in batches of {settings.Batch}, {settings.Writers} concurrent writer(s)");
        Console.WriteLine($"  PostgreSQL {conditions["server_version"]} at {Describe(settings.Admin)}, scratch database {database}");
        Console.WriteLine($"  fsync={conditions["fsync"]}, synchronous_commit={conditions["synchronous_commit"]}, " +
                          $"wal_level={conditions["wal_level"]}; client: {Environment.ProcessorCount} cores, .NET {Environment.Version}");

        // Warm-up: JIT, connection pool, PostgreSQL caches. Recorded, then excluded from the figure.
        await store.AppendAsync(Workload.Generate(Math.Min(2_000, settings.Events)).Select(m => m.Map()).ToList(), ct);
        var warmed = await CountAsync(dataSource, ct);

        var latencies = new double[batches.Length];
        var next = -1;
        var clock = Stopwatch.StartNew();
        var writers = Enumerable.Range(0, settings.Writers).Select(_ => Task.Run(async () =>
        {
            int index;
            while ((index = Interlocked.Increment(ref next)) < batches.Length)
            {
                var started = Stopwatch.GetTimestamp();
                // What a projections consumer does per batch: map the messages, then append (redact, lock, hash, COPY, summaries).
                var entries = batches[index].Select(m => m.Map()).ToList();
                var written = await store.AppendAsync(entries, ct);
                latencies[index] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                if (written != entries.Count)
                    throw new InvalidOperationException($"Batch {index}: {written} of {entries.Count} events written.");
            }
        }, ct)).ToList();
        await Task.WhenAll(writers);
        clock.Stop();

        var rate = messages.Count / clock.Elapsed.TotalSeconds;
        Array.Sort(latencies);
        Console.WriteLine();
        Console.WriteLine($"  wrote {messages.Count} events in {clock.Elapsed.TotalSeconds:0.00} s: {rate:0} events/s");
        Console.WriteLine($"  batch latency (map + redact + append + commit): p50 {Percentile(latencies, 0.50):0.0} ms, " +
                          $"p99 {Percentile(latencies, 0.99):0.0} ms, max {latencies[^1]:0.0} ms");

        // Redelivery: the same events again must add nothing.
        var again = batches.Take(Math.Max(1, batches.Length / 20)).SelectMany(b => b).ToList();
        var repeated = await store.AppendAsync(again.Select(m => m.Map()).ToList(), ct);
        var total = await CountAsync(dataSource, ct);
        var expected = warmed + messages.Count;
        Console.WriteLine($"  redelivered {again.Count} events: {repeated} new row(s); audit_events holds {total} rows (expected {expected})");

        var verifyClock = Stopwatch.StartNew();
        var verification = await AuditVerifier.VerifyAsync(dataSource, cancellationToken: ct);
        verifyClock.Stop();
        Console.WriteLine($"  audit verify: {(verification.Intact ? "intact" : $"BROKEN at #{verification.First!.Seq}")}, {verification.RowsChecked} rows in " +
                          $"{verifyClock.Elapsed.TotalSeconds:0.00} s ({verification.RowsChecked / verifyClock.Elapsed.TotalSeconds:0} rows/s)");

        var ok = repeated == 0 && total == expected && verification.Intact;
        Console.WriteLine();
        Console.WriteLine(ok
            ? $"RESULT {rate:0} audit events/s (target 10000: {(rate >= 10_000 ? "met" : "NOT met")}), fsync={conditions["fsync"]}, " +
              $"synchronous_commit={conditions["synchronous_commit"]}, batch {settings.Batch}, writers {settings.Writers}"
            : "RESULT invalid: the log is not what was written (see above)");
        return ok ? 0 : 1;
    }

    static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    static async Task<Dictionary<string, string>> ConditionsAsync(NpgsqlDataSource dataSource, CancellationToken ct)
    {
        var result = new Dictionary<string, string>();
        foreach (var setting in new[] { "server_version", "fsync", "synchronous_commit", "wal_level" })
        {
            await using var command = dataSource.CreateCommand($"SHOW {setting}");
            result[setting] = (string)(await command.ExecuteScalarAsync(ct))!;
        }
        return result;
    }

    static async Task<long> CountAsync(NpgsqlDataSource dataSource, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("SELECT count(*) FROM audit_events");
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }

    static async Task ExecuteAsync(string connectionString, string sql, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(ct);
    }

    static string Describe(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        return $"{builder.Host}:{builder.Port}";
    }

    static Settings Parse(string[] args)
    {
        var events = 200_000;
        var batch = 500;
        var writers = 4;
        var admin = Environment.GetEnvironmentVariable("AGENTBUS_POSTGRES_ADMIN");
        var timeout = TimeSpan.FromMinutes(10);
        var keep = false;
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            int Number(int min, int max)
            {
                var name = args[i];
                var text = Value();
                return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
                    ? n
                    : throw new ArgumentException($"{name} must be a whole number from {min} to {max}, not '{text}'.");
            }

            switch (args[i])
            {
                case "--events": events = Number(1_000, 50_000_000); break;
                case "--batch": batch = Number(1, 10_000); break;
                case "--writers": writers = Number(1, 64); break;
                case "--postgres-admin": admin = Value(); break;
                case "--timeout": timeout = TimeSpan.FromSeconds(Number(10, 86_400)); break;
                case "--keep-database": keep = true; break;
                default: throw new ArgumentException($"unknown argument '{args[i]}'.");
            }
        }
        if (string.IsNullOrWhiteSpace(admin))
            throw new ArgumentException("no PostgreSQL: pass --postgres-admin or set AGENTBUS_POSTGRES_ADMIN (source /var/lib/agentbus/env).");
        return new Settings(events, batch, writers, admin, timeout, keep);
    }
}

/// <summary>
/// What the projections see for a run: a proposal with arguments worth redacting, its decision,
/// the authorization, the outcome (one in ten fails), and the agent's run report.
/// </summary>
static class Workload
{
    // The audit stores the authorization as sent; its signature is not checked on this path, so
    // a fixed 64-byte value stands in for one of realistic size.
    static readonly string Signature = Convert.ToBase64String(new byte[64]);

    public static readonly RedactionOptions Redaction = new()
    {
        Tools = new() { ["payments"] = ["body.card", "body.customer.email"], ["ticketing"] = ["body.customer.phone"] },
    };

    public sealed record Message(object Body)
    {
        public AuditEntry Map() => Body switch
        {
            ActionProposed p => new AuditEntry(Id(p.ActionId, "proposed"), nameof(ActionProposed), p.ActionId, p.RunId, p.AgentId, p.Tool, "proposed", null,
                JsonSerializer.Serialize(p, WireJson.Options), DateTimeOffset.UtcNow, new RunChange(Proposed: 1)) { Actor = p.AgentId },
            ActionDecided d => AuditEntry.From(Id(d.ActionId!, "decided"), d),
            ExecuteTool x => AuditEntry.From(Id(x.ActionId, "authorized"), x),
            ActionSucceeded s => AuditEntry.From(Id(s.ActionId, "outcome"), s),
            ActionFailed f => AuditEntry.From(Id(f.ActionId, "outcome"), f),
            RunCompleted r => new AuditEntry(Id(r.RunId, "completed"), nameof(RunCompleted), null, r.RunId, r.AgentId, null,
                r.Succeeded ? "succeeded" : "failed", null, JsonSerializer.Serialize(r, WireJson.Options), DateTimeOffset.UtcNow,
                new RunChange(Completion: new RunCompletion(r.Succeeded, r.Summary, DateTimeOffset.UtcNow))) { Actor = r.AgentId },
            _ => throw new InvalidOperationException(),
        };

        // Deterministic, as the services derive theirs, so a redelivered message maps to the same id.
        static Guid Id(string subject, string step) => MessageIds.For(subject, step);
    }

    public static List<Message> Generate(int events)
    {
        var messages = new List<Message>(events + 8);
        var now = DateTimeOffset.UtcNow;
        var bench = Guid.NewGuid().ToString("N")[..8];
        for (var i = 0; messages.Count < events; i++)
        {
            var agent = $"agent-{i % 10}";
            var run = $"bench-{bench}-{i / 20}";
            var tool = i % 2 == 0 ? "ticketing" : "payments";
            var actionId = Guid.CreateVersion7().ToString();
            var arguments = JsonSerializer.SerializeToElement(new
            {
                method = "POST",
                url = $"http://127.0.0.1:5080/{tool}/records",
                body = new
                {
                    title = $"Request {i}: customer cannot log in since the last update",
                    customer = new { name = "Ada Lovelace", email = "ada@example.com", phone = "+49 30 1234567" },
                    card = new { number = "4111 1111 1111 1111", expiry = "12/29" },
                    password = "hunter2",
                    lines = new[] { new { sku = "A-1", quantity = 2, amountUsd = 12.5 }, new { sku = "B-7", quantity = 1, amountUsd = 99.99 } },
                },
            });
            messages.Add(new(new ActionProposed(actionId, run, agent, tool, arguments, actionId, "resolve the customer's issue")));
            messages.Add(new(new ActionDecided(actionId, run, agent, tool, Decision.Allowed, ReasonCodes.Allowed, "Granted by rule.",
                $"{agent}-{tool}", "v-bench", now)));
            messages.Add(new(new ExecuteTool(actionId, run, agent, tool, arguments, "sha256:" + new string('0', 64), actionId, now,
                new ToolAuthorization("bench-key", null, now.AddMinutes(5), Signature))));
            messages.Add(i % 10 == 9
                ? new(new ActionFailed(actionId, run, agent, tool, "http_409", "The record changed meanwhile.", false, 35, 1, now))
                : new(new ActionSucceeded(actionId, run, agent, tool, JsonSerializer.SerializeToElement(new { id = $"REF-{i:D8}", status = "recorded" }),
                    $"REF-{i:D8}", 0.002m, 35, 1, now)));
            if (i % 20 == 19)
                messages.Add(new(new RunCompleted(run, agent, true, "Done.")));
        }
        return messages;
    }
}
