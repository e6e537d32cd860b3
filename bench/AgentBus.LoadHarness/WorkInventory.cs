using System.Globalization;
using System.Text;
using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.Testbed;
using Dapper;

namespace AgentBus.LoadHarness;

/// <summary>
/// What a span of actions cost the broker and the database, counted by RabbitMQ and PostgreSQL
/// themselves over the scratch vhost and database: messages published and confirmed, deliveries per
/// queue, transactions committed, rows written and WAL bytes generated (the WAL position is the
/// cluster's, exact and not delayed, and the scratch database is the only one written while a run
/// lasts; it includes full-page images after a checkpoint, so it moves between runs). Both keep their counters a little behind (RabbitMQ
/// per statistics tick, 5 s by default; PostgreSQL per backend, up to 10 s while it idles), so a
/// snapshot waits <see cref="Settle"/> after the pipeline went quiet.
/// </summary>
sealed record WorkInventory(long Publishes, long Confirms, IReadOnlyDictionary<string, long> Deliveries, long Commits, long RowWrites, long WalBytes)
{
    public static readonly TimeSpan Settle = TimeSpan.FromSeconds(12);

    public static async Task<WorkInventory> TakeAsync(Scratch scratch, CancellationToken ct)
    {
        var vhost = await scratch.Management.GetVirtualHostAsync(scratch.VirtualHost, ct);
        var queues = await scratch.Management.ListQueueStatsAsync(scratch.VirtualHost, ct);
        await using var connection = await scratch.Database.OpenConnectionAsync(ct);
        var (commits, writes, wal) = await connection.QuerySingleAsync<(long, long, long)>("""
            SELECT xact_commit, tup_inserted + tup_updated + tup_deleted, pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint
              FROM pg_stat_database WHERE datname = current_database()
            """);
        return new(Counter(vhost, "publish"), Counter(vhost, "confirm"),
            queues.ToDictionary(q => q.GetProperty("name").GetString()!, q => Counter(q, "deliver_get")), commits, writes, wal);
    }

    static long Counter(JsonElement item, string name) =>
        item.TryGetProperty("message_stats", out var stats) && stats.ValueKind == JsonValueKind.Object
        && stats.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number
            ? value.GetInt64()
            : 0;

    /// <summary>The report's section: per action, between <paramref name="before"/> and this snapshot.</summary>
    public string PerAction(WorkInventory before, int actions, string span)
    {
        double Per(long count) => (double)count / actions;
        var deliveries = Deliveries
            .Select(q => (Queue: q.Key, Count: q.Value - before.Deliveries.GetValueOrDefault(q.Key)))
            .GroupBy(q => q.Queue.StartsWith(WireNames.AgentReplyQueuePrefix, StringComparison.Ordinal)
                ? WireNames.AgentReplyQueuePrefix + "<agent> (every agent's own)"
                : q.Queue)
            .Select(g => (Queue: g.Key, Count: g.Sum(q => q.Count)))
            .Where(q => q.Count > 0)
            .OrderByDescending(q => q.Count).ThenBy(q => q.Queue, StringComparer.Ordinal)
            .ToList();
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"### Work per action ({span}, {actions} actions, counted by RabbitMQ and PostgreSQL)");
        text.AppendLine();
        text.AppendLine("| counter | per action |");
        text.AppendLine("|---|---:|");
        text.AppendLine(CultureInfo.InvariantCulture, $"| messages published (all clients) | {Per(Publishes - before.Publishes):0.00} |");
        text.AppendLine(CultureInfo.InvariantCulture, $"| publisher confirms | {Per(Confirms - before.Confirms):0.00} |");
        text.AppendLine(CultureInfo.InvariantCulture, $"| queue deliveries | {Per(deliveries.Sum(q => q.Count)):0.00} |");
        foreach (var (queue, count) in deliveries)
            text.AppendLine(CultureInfo.InvariantCulture, $"| · {queue.Replace("|", "\\|", StringComparison.Ordinal)} | {Per(count):0.00} |");
        text.AppendLine(CultureInfo.InvariantCulture, $"| PostgreSQL transactions committed (reads included) | {Per(Commits - before.Commits):0.00} |");
        text.AppendLine(CultureInfo.InvariantCulture, $"| PostgreSQL rows written (inserted, updated, deleted) | {Per(RowWrites - before.RowWrites):0.00} |");
        text.AppendLine(CultureInfo.InvariantCulture, $"| PostgreSQL WAL bytes | {Per(WalBytes - before.WalBytes):0} |");
        return text.ToString();
    }
}
