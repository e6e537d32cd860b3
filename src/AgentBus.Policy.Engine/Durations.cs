using System.Globalization;

namespace AgentBus.Policy.Engine;

public static class Durations
{
    /// <summary>"90s", "30m", "1h", "2d", or the largest whole unit with a remainder ("1h30m").</summary>
    public static string Format(TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
            return "0s";
        var parts = new List<string>();
        if (value.Days > 0) parts.Add(value.Days.ToString(CultureInfo.InvariantCulture) + "d");
        if (value.Hours > 0) parts.Add(value.Hours.ToString(CultureInfo.InvariantCulture) + "h");
        if (value.Minutes > 0) parts.Add(value.Minutes.ToString(CultureInfo.InvariantCulture) + "m");
        if (value.Seconds > 0) parts.Add(value.Seconds.ToString(CultureInfo.InvariantCulture) + "s");
        if (parts.Count == 0) parts.Add(value.Milliseconds.ToString(CultureInfo.InvariantCulture) + "ms");
        return string.Concat(parts);
    }
}
