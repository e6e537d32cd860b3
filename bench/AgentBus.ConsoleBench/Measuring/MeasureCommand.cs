using System.Diagnostics;
using System.Net.Http.Headers;
using Npgsql;

namespace AgentBus.ConsoleBench.Measuring;

sealed record MeasureSettings(Uri Console, string Token, int Rounds, int Warmup, IReadOnlyList<string> Paths, string? Postgres, string? RunId, string? AgentId,
    int TargetMs)
{
    public static readonly string[] DefaultPaths =
        ["/controls", "/runs", "/runs/{runId}", "/agents", "/agents/{agentId}", "/dead-letters", "/gates", "/audit"];

    public static MeasureSettings Parse(IReadOnlyList<string> args)
    {
        var a = new Arguments(args, "--console", "--token", "--rounds", "--warmup", "--paths", "--postgres", "--run", "--agent", "--target-ms");
        var console = a.Required("--console");
        if (!Uri.TryCreate(console.TrimEnd('/') + "/", UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
            throw new UsageException($"--console must be an http(s) URL, not '{console}'.");
        var paths = a.Text("--paths") is { } list
            ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            : DefaultPaths;
        return new MeasureSettings(url, a.Required("--token"), a.Number("--rounds", 20, 1, 10_000), a.Number("--warmup", 3, 0, 100), paths,
            a.Text("--postgres"), a.Text("--run"), a.Text("--agent"), a.Number("--target-ms", 300, 1, 60_000));
    }
}

/// <summary>
/// Times each console page as an operator's browser would load it: one request at a time, after a few
/// warm-up requests (JIT, connection pools, PostgreSQL's caches), then N rounds over all pages.
/// </summary>
static class MeasureCommand
{
    sealed record Sample(double Ms, int Status, long Bytes);

    public static async Task<int> RunAsync(MeasureSettings settings)
    {
        var ct = CancellationToken.None;
        string? runId = settings.RunId, agentId = settings.AgentId;
        IReadOnlyList<(string Table, long Rows)> counts = [];
        if (settings.Postgres is { } postgres)
        {
            await using var dataSource = NpgsqlDataSource.Create(postgres);
            counts = await TableCounts.ReadAsync(dataSource, ct);
            // The busiest recent run: the run page with the most to show.
            await using var command = dataSource.CreateCommand("""
                SELECT run_id, agent_id FROM run_summaries
                ORDER BY last_event_at DESC LIMIT 1
                """);
            await using var reader = await command.ExecuteReaderAsync(ct);
            if (await reader.ReadAsync(ct))
            {
                runId ??= reader.GetString(0);
                agentId ??= reader.GetString(1);
            }
        }

        var paths = settings.Paths.Select(p => Resolve(p, runId, agentId)).ToList();
        if (paths.FirstOrDefault(p => p.Contains('{')) is { } unresolved)
        {
            Console.Error.WriteLine($"error: {unresolved} needs --run/--agent (or --postgres to take them from the data).");
            return 2;
        }

        using var http = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) { BaseAddress = settings.Console, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", settings.Token);

        var samples = paths.ToDictionary(p => p, _ => new List<Sample>());
        foreach (var path in paths)
            for (var i = 0; i < settings.Warmup; i++)
                await GetAsync(http, path, ct);
        for (var round = 0; round < settings.Rounds; round++)
            foreach (var path in paths)
                samples[path].Add(await GetAsync(http, path, ct));

        Console.WriteLine($"console {settings.Console} — {settings.Rounds} rounds after {settings.Warmup} warm-up request(s) per page, one request at a time, " +
                          $"client on {Environment.ProcessorCount} cores");
        if (counts.Count > 0)
            Console.WriteLine("measured against: " + string.Join(", ", counts.Select(c => $"{c.Table} {c.Rows}")));
        Console.WriteLine($"{"page",-48} {"status",6} {"p50 ms",8} {"p95 ms",8} {"max ms",8} {"bytes",9}  < {settings.TargetMs} ms");
        var failed = false;
        var slow = 0;
        foreach (var path in paths)
        {
            var taken = samples[path];
            var ms = taken.Select(s => s.Ms).Order().ToArray();
            var statuses = string.Join("/", taken.Select(s => s.Status).Distinct());
            var p95 = Percentile(ms, 0.95);
            failed |= taken.Any(s => s.Status != 200);
            var met = p95 < settings.TargetMs;
            if (!met)
                slow++;
            Console.WriteLine($"{Shorten(path),-48} {statuses,6} {Percentile(ms, 0.50),8:0.0} {p95,8:0.0} {ms[^1],8:0.0} {taken[^1].Bytes,9}  {(met ? "yes" : "NO (p95)")}");
        }
        Console.WriteLine(failed
            ? "RESULT failed: a page answered other than 200"
            : $"RESULT {paths.Count - slow} of {paths.Count} pages under {settings.TargetMs} ms at p95");
        return failed ? 1 : 0;
    }

    static async Task<Sample> GetAsync(HttpClient http, string path, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        using var response = await http.GetAsync(path.TrimStart('/'), HttpCompletionOption.ResponseContentRead, ct);
        var body = await response.Content.ReadAsByteArrayAsync(ct);
        return new Sample(Stopwatch.GetElapsedTime(started).TotalMilliseconds, (int)response.StatusCode, body.LongLength);
    }

    static string Resolve(string path, string? runId, string? agentId)
    {
        if (runId is not null)
            path = path.Replace("{runId}", Uri.EscapeDataString(runId), StringComparison.Ordinal);
        if (agentId is not null)
            path = path.Replace("{agentId}", Uri.EscapeDataString(agentId), StringComparison.Ordinal);
        return path;
    }

    static string Shorten(string path) => path.Length <= 48 ? path : path[..45] + "...";

    static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
}
