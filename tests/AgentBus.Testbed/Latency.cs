using System.Diagnostics;

namespace AgentBus.Testbed;

/// <summary>Percentiles of a set of durations, in milliseconds.</summary>
public sealed record LatencySummary(int Count, double P50, double P95, double P99, double P999, double Max, double Mean)
{
    public static LatencySummary Of(IEnumerable<double> milliseconds)
    {
        var sorted = milliseconds.ToArray();
        Array.Sort(sorted);
        if (sorted.Length == 0)
            return new LatencySummary(0, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);
        double At(double q) => sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
        return new LatencySummary(sorted.Length, At(0.50), At(0.95), At(0.99), At(0.999), sorted[^1], sorted.Average());
    }

    public static double Ms(long fromTimestamp, long toTimestamp) => Stopwatch.GetElapsedTime(fromTimestamp, toTimestamp).TotalMilliseconds;
}

/// <summary>The machine's load average (1, 5, 15 minutes), recorded next to every figure.</summary>
public static class LoadAverage
{
    public static string Now()
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

    public static double OneMinute() =>
        double.TryParse(Now().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : double.NaN;
}
