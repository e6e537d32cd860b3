using System.Diagnostics;
using System.Text.Json;
using AgentBus.Audit.Redaction;
using AgentBus.Policy.Engine;
using AgentBus.Policy.Versions;
using AgentBus.Projections.Audit;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AgentBus.ConsoleBench.Seeding;

sealed record SeedSettings(string Postgres, int Actions, int Days, int Seed, string PolicyFile, string? RedactionFile)
{
    public static SeedSettings Parse(IReadOnlyList<string> args)
    {
        var a = new Arguments(args, "--postgres", "--actions", "--days", "--seed", "--policy", "--redaction");
        return new SeedSettings(
            a.Text("--postgres") ?? Environment.GetEnvironmentVariable("AGENTBUS_POSTGRES") ?? throw new UsageException("--postgres is required (or AGENTBUS_POSTGRES)."),
            a.Number("--actions", 100_000, 1, 10_000_000),
            a.Number("--days", 30, 1, 3_650),
            a.Number("--seed", 1, 0, int.MaxValue),
            a.Text("--policy") ?? "ops/policies/policy.yaml",
            a.Text("--redaction"));
    }
}

static class SeedCommand
{
    public static async Task<int> RunAsync(SeedSettings settings)
    {
        var loaded = PolicyLoader.LoadFile(settings.PolicyFile);
        if (loaded.Policy is not { } policy)
        {
            Console.Error.WriteLine($"error: the policy {settings.PolicyFile} does not load: {string.Join("; ", loaded.Errors)}");
            return 1;
        }
        var auditOptions = new AuditOptions { Redaction = ReadRedaction(settings.RedactionFile) };

        await using var dataSource = NpgsqlDataSource.Create(settings.Postgres);
        var ct = CancellationToken.None;
        var now = DateTimeOffset.UtcNow;
        var total = Stopwatch.StartNew();

        var runs = new Workload(policy, new Random(settings.Seed), now).Generate(settings.Actions, settings.Days);
        var generated = total.Elapsed;

        // The version every decision names, recorded as the policy service records it when it loads the file.
        if (PolicyVersionContent.Capture(policy) is { } content)
            await new PolicyVersionStore(dataSource).RecordAsync(policy.Version, content, Path.GetFullPath(policy.Source), "consolebench", "live",
                now - TimeSpan.FromDays(settings.Days), ct);

        var clock = new SeedClock();
        var store = new AuditStore(dataSource, new AuditRedactor(auditOptions.Redaction), Options.Create(auditOptions), clock, NullLogger<AuditStore>.Instance);
        var auditClock = Stopwatch.StartNew();
        var events = await new AuditSeeder(store, clock).AppendAsync(runs, ct);
        var audited = auditClock.Elapsed;

        var policyClock = Stopwatch.StartNew();
        await PolicyStateSeeder.WriteAsync(dataSource, runs, now, ct);
        var policyTables = policyClock.Elapsed;

        await using (var analyze = dataSource.CreateCommand("ANALYZE"))
            await analyze.ExecuteNonQueryAsync(ct);
        total.Stop();

        var actions = runs.Sum(r => r.Actions.Count);
        Console.WriteLine($"seeded {actions} actions in {runs.Count} runs over {settings.Days} days (seed {settings.Seed}, policy {policy.Version}):");
        Console.WriteLine($"  generate + evaluate {generated.TotalSeconds:0.0} s, audit {events} events {audited.TotalSeconds:0.0} s " +
                          $"({events / Math.Max(audited.TotalSeconds, 0.001):0} events/s), policy tables {policyTables.TotalSeconds:0.0} s, " +
                          $"total {total.Elapsed.TotalSeconds:0.0} s on {Environment.ProcessorCount} cores");
        foreach (var (table, rows) in await TableCounts.ReadAsync(dataSource, ct))
            Console.WriteLine($"  {table,-20} {rows,10}");
        return 0;
    }

    /// <summary>The projections' redaction settings, from the same file the projections are given (Audit:Redaction).</summary>
    static RedactionOptions ReadRedaction(string? file)
    {
        if (file is null)
            return new RedactionOptions();
        using var document = JsonDocument.Parse(File.ReadAllText(file));
        var section = document.RootElement.GetProperty("Audit").GetProperty("Redaction");
        return section.Deserialize<RedactionOptions>(new JsonSerializerOptions { PropertyNameCaseInsensitive = true }) ?? new RedactionOptions();
    }
}
