using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using AgentBus.DataBoundaries;

namespace AgentBus.DataBoundariesBench;

/// <summary>Generates the corpus, classifies every sample, times classification per proposal, and prints one markdown report.</summary>
sealed class DataBoundariesRun(BenchOptions options, TextWriter output)
{
    const double DetectionTarget = 0.99;
    const double FalsePositiveTarget = 0.01;
    const double SmallP50TargetMicroseconds = 50;

    public int Run()
    {
        var generator = new CorpusGenerator(options.Seed);
        var positives = generator.Positives(options.PerClass).ToList();
        var negatives = generator.Negatives(options.PerKind).ToList();
        if (options.CorpusDirectory is not null)
            WriteCorpus(positives, negatives);

        Line("# Sensitive-data classifier: corpus and timing");
        Line();
        Line($"Conditions: {Machine()}; {(IsOptimized() ? "Release" : "Debug (figures are not representative)")}, workstation GC, " +
             $"load average before {LoadAverage()}; seed {options.Seed}, corpus {CorpusGenerator.Fingerprint(positives.Concat(negatives))}; " +
             $"{DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC.");
        Line();

        var ok = Detection(positives);
        ok &= FalsePositives(negatives);
        ok &= Documented();
        ok &= Timing(generator);
        Line();
        Line(ok ? "Every target holds." : "**At least one target does not hold** (marked ✗ above).");
        return ok ? 0 : 1;
    }

    bool Detection(List<Sample> positives)
    {
        Line($"## Detection: {positives.Count:N0} positives");
        Line();
        Line("A positive is detected when a finding of its class names its pointer (the field, or the container of a split value) or a pointer inside it (one part of a split value that is recognisable alone).");
        Line();
        Line($"| class | {string.Join(" | ", CorpusGenerator.Forms)} | all | |");
        Line($"|---|{string.Concat(CorpusGenerator.Forms.Select(_ => "---:|"))}---:|---|");
        var ok = true;
        var misses = new List<string>();
        foreach (var group in positives.GroupBy(s => s.Class!))
        {
            var perForm = new Dictionary<string, (int Found, int Total)>();
            foreach (var sample in group)
            {
                using var document = JsonDocument.Parse(sample.Json);
                var result = DataClassifier.Classify(document.RootElement);
                var found = result.Findings.Any(f => f.Class == sample.Class && (f.Pointer == sample.Pointer || f.Pointer.StartsWith(sample.Pointer + "/", StringComparison.Ordinal)));
                var (f0, t0) = perForm.GetValueOrDefault(sample.Form);
                perForm[sample.Form] = (f0 + (found ? 1 : 0), t0 + 1);
                if (!found && options.ShowMisses)
                    misses.Add($"- {sample.Class} {sample.Form} {sample.Kind}: `{sample.Json}` → [{string.Join(", ", result.Findings)}]");
            }
            var all = (Found: perForm.Values.Sum(v => v.Found), Total: perForm.Values.Sum(v => v.Total));
            var rate = (double)all.Found / all.Total;
            ok &= rate >= DetectionTarget;
            var cells = CorpusGenerator.Forms.Select(form => perForm.TryGetValue(form, out var v) ? Percent(v.Found, v.Total) : "–");
            Line($"| `{group.Key}` | {string.Join(" | ", cells)} | {Percent(all.Found, all.Total)} | {(rate >= DetectionTarget ? "✓" : "✗")} |");
        }
        Line();
        foreach (var miss in misses)
            Line(miss);
        if (misses.Count > 0)
            Line();
        return ok;
    }

    bool FalsePositives(List<Sample> negatives)
    {
        Line($"## False positives: {negatives.Count:N0} negatives");
        Line();
        var perKind = new Dictionary<string, (int Flagged, int Total)>();
        var perClass = DataClasses.All.ToDictionary(c => c, _ => 0);
        var flaggedSamples = new List<string>();
        var flagged = 0;
        foreach (var sample in negatives)
        {
            using var document = JsonDocument.Parse(sample.Json);
            var result = DataClassifier.Classify(document.RootElement);
            var (f, t) = perKind.GetValueOrDefault(sample.Kind);
            perKind[sample.Kind] = (f + (result.Findings.Count > 0 ? 1 : 0), t + 1);
            if (result.Findings.Count == 0)
                continue;
            flagged++;
            foreach (var dataClass in result.Findings.Select(x => x.Class).Distinct())
                perClass[dataClass]++;
            if (options.ShowMisses)
                flaggedSamples.Add($"- {sample.Kind}: `{sample.Json}` → [{string.Join(", ", result.Findings)}]");
        }
        Line("Per class (negatives on which the class was reported):");
        Line();
        Line("| class | false positives | rate |");
        Line("|---|---:|---:|");
        foreach (var (dataClass, count) in perClass)
            Line($"| `{dataClass}` | {count} | {Percent(count, negatives.Count)} |");
        Line();
        Line("Per kind of negative (samples with any finding):");
        Line();
        Line("| kind | flagged | rate |");
        Line("|---|---:|---:|");
        foreach (var (kind, (f, t)) in perKind)
            Line($"| {kind} | {f} / {t} | {Percent(f, t)} |");
        var rate = (double)flagged / negatives.Count;
        var ok = rate <= FalsePositiveTarget && perClass.Values.All(c => (double)c / negatives.Count <= FalsePositiveTarget);
        Line();
        Line($"All negatives: {flagged} of {negatives.Count} flagged, {Percent(flagged, negatives.Count)} {(ok ? "✓" : "✗")} (target ≤ 1 %).");
        Line();
        foreach (var sample in flaggedSamples)
            Line(sample);
        if (flaggedSamples.Count > 0)
            Line();
        return ok;
    }

    bool Documented()
    {
        Line("## Published examples");
        Line();
        Line("| source | expected | found | |");
        Line("|---|---|---|---|");
        var ok = true;
        foreach (var (dataClass, source, value) in CorpusGenerator.DocumentedExamples)
        {
            var result = DataClassifier.Classify($"example: {value} (from the docs)");
            var found = result.Findings.Any(f => f.Class == dataClass);
            ok &= found;
            Line($"| {source} | `{dataClass}` | {string.Join(", ", result.Findings.Select(f => f.Class))} | {(found ? "✓" : "✗")} |");
        }
        foreach (var (source, value) in CorpusGenerator.DocumentedNonExamples)
        {
            var result = DataClassifier.Classify($"example: {value} (from the docs)");
            var clean = result.Findings.Count == 0;
            ok &= clean;
            Line($"| {source} | nothing | {string.Join(", ", result.Findings.Select(f => f.Class))} | {(clean ? "✓" : "✗")} |");
        }
        Line();
        return ok;
    }

    bool Timing(CorpusGenerator generator)
    {
        Line("## Time added per proposal");
        Line();
        Line("`DataClassifier.Classify(JsonElement)` on arguments already parsed (the policy service parses them anyway), one call at a time on one thread; " +
             "bodies built from the negative corpus (ids, dates, prices, sentences, hashes, paths, base64 files), \"with findings\" adds an e-mail address, a card number and an API key.");
        Line();
        Line("| body | bodies | calls | p50 | p99 | mean | allocated per call | |");
        Line("|---|---:|---:|---:|---:|---:|---:|---|");
        var ok = true;
        foreach (var (size, iterations, count) in new[] { (1024, options.SmallIterations, 64), (64 * 1024, options.LargeIterations, 8) })
        {
            foreach (var withFindings in new[] { false, true })
            {
                var bodies = Enumerable.Range(0, count).Select(_ => BodyBuilder.Build(generator, size, withFindings)).ToList();
                var documents = bodies.Select(b => JsonDocument.Parse(b)).ToList();
                var (p50, p99, mean, allocated) = Measure(documents, iterations);
                var pass = size > 1024 || p50 < SmallP50TargetMicroseconds;
                ok &= pass;
                var averageBytes = bodies.Average(b => Encoding.UTF8.GetByteCount(b));
                Line($"| {averageBytes / 1024:F1} KB{(withFindings ? ", with findings" : "")} | {count} | {iterations:N0} | {p50:F1} µs | {p99:F1} µs | {mean:F1} µs | {allocated:N0} B | {(size > 1024 ? "" : pass ? "✓ (< 50 µs)" : "✗ (target < 50 µs)")} |");
                foreach (var document in documents)
                    document.Dispose();
            }
        }
        Line();
        Line($"Load average after: {LoadAverage()}.");
        return ok;
    }

    static (double P50, double P99, double Mean, long Allocated) Measure(List<JsonDocument> documents, int iterations)
    {
        // Warm up for two seconds: tiered compilation promotes hot methods after a delay, not after a count.
        var warmup = Stopwatch.StartNew();
        for (var i = 0; warmup.Elapsed < TimeSpan.FromSeconds(2); i++)
            DataClassifier.Classify(documents[i % documents.Count].RootElement);
        var times = new double[iterations];
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < iterations; i++)
        {
            var root = documents[i % documents.Count].RootElement;
            var start = Stopwatch.GetTimestamp();
            DataClassifier.Classify(root);
            times[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }
        var allocated = (GC.GetAllocatedBytesForCurrentThread() - allocatedBefore) / iterations;
        Array.Sort(times);
        double At(double q) => times[Math.Clamp((int)Math.Ceiling(q * times.Length) - 1, 0, times.Length - 1)];
        return (At(0.50), At(0.99), times.Average(), allocated);
    }

    void WriteCorpus(List<Sample> positives, List<Sample> negatives)
    {
        Directory.CreateDirectory(options.CorpusDirectory!);
        File.WriteAllLines(Path.Combine(options.CorpusDirectory!, "positives.jsonl"), positives.Select(s => JsonSerializer.Serialize(s)));
        File.WriteAllLines(Path.Combine(options.CorpusDirectory!, "negatives.jsonl"), negatives.Select(s => JsonSerializer.Serialize(s)));
    }

    static string Percent(int part, int whole) => whole == 0 ? "–" : ((double)part / whole).ToString("P2", CultureInfo.InvariantCulture);

    static string Machine()
    {
        var memory = "?";
        try
        {
            var line = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
            if (line is not null)
                memory = $"{long.Parse(line[9..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024 / 1024} GB RAM";
            var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
            return $"{Environment.ProcessorCount} vCPUs ({cpu}), {memory}, {RuntimeInformation.OSDescription.Trim()}, .NET {Environment.Version}";
        }
        catch (IOException)
        {
            return $"{Environment.ProcessorCount} vCPUs, {RuntimeInformation.OSDescription.Trim()}, .NET {Environment.Version}";
        }
    }

    static string LoadAverage()
    {
        try
        {
            var parts = File.ReadAllText("/proc/loadavg").Split(' ');
            return $"{parts[0]} {parts[1]} {parts[2]}";
        }
        catch (IOException)
        {
            return "?";
        }
    }

    static bool IsOptimized() =>
        typeof(DataClassifier).Assembly.GetCustomAttributes(typeof(DebuggableAttribute), false).OfType<DebuggableAttribute>().All(a => !a.IsJITOptimizerDisabled)
        && !GCSettings.IsServerGC;

    void Line(string text = "") => output.WriteLine(text);
}
