using System.Globalization;

namespace AgentBus.DataBoundariesBench;

sealed class BenchUsageException(string message) : Exception(message);

/// <summary>Command-line settings of the data-boundaries run.</summary>
sealed record BenchOptions(int Seed, int PerClass, int PerKind, int SmallIterations, int LargeIterations, string? CorpusDirectory, bool ShowMisses)
{
    public const string Usage = """
        agentbus-data-boundaries-bench: the sensitive-data classifier against a generated corpus, and its time per proposal.

          --seed 18                 the same seed generates the same corpus
          --per-class 250           positives per class (12 classes; forms plain, url, base64, split in turn)
          --per-kind 120            negatives per kind (21 kinds)
          --iterations 20000        timed classifications of 1 KB bodies (per body kind)
          --large-iterations 1000   timed classifications of 64 KB bodies (per body kind)
          --short                   --iterations 5000 --large-iterations 200 (explicit values still win)
          --corpus DIR              also write the corpus as DIR/positives.jsonl and DIR/negatives.jsonl
          --misses                  print each missed positive and each false positive (the generated values)

        Exit code 0 when every target holds (>= 99 % detection per class, <= 1 % false positives, < 50 us p50 per 1 KB
        proposal, every documented example found and every documented non-example not found); 1 when one does not;
        2 for a bad command line. Run it in Release.
        """;

    public static BenchOptions Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var flags = new HashSet<string>(StringComparer.Ordinal);
        string[] known = ["seed", "per-class", "per-kind", "iterations", "large-iterations", "corpus"];
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i].StartsWith("--", StringComparison.Ordinal) ? args[i][2..] : null;
            if (args[i] is "-h" or "--help")
                throw new BenchUsageException(Usage);
            if (name is "short" or "misses")
            {
                flags.Add(name);
                continue;
            }
            if (name is null || !known.Contains(name) || i + 1 >= args.Length)
                throw new BenchUsageException($"Unexpected argument '{args[i]}'.{Environment.NewLine}{Usage}");
            values[name] = args[++i];
        }
        var isShort = flags.Contains("short");
        int Int(string name, int fallback, int min, int max)
        {
            if (!values.TryGetValue(name, out var text))
                return fallback;
            return int.TryParse(text, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
                ? value
                : throw new BenchUsageException($"--{name} must be a whole number from {min} to {max}.");
        }
        return new BenchOptions(
            Int("seed", 18, 0, int.MaxValue),
            Int("per-class", 250, 1, 100_000),
            Int("per-kind", 120, 1, 100_000),
            Int("iterations", isShort ? 5000 : 20_000, 100, 10_000_000),
            Int("large-iterations", isShort ? 200 : 1000, 10, 1_000_000),
            values.GetValueOrDefault("corpus"),
            flags.Contains("misses"));
    }
}
