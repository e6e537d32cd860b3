using System.Globalization;
using System.Text.RegularExpressions;

namespace AgentBus.Catalog;

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

    /// <summary>Parses "90s", "30m", "1h", "2d", "250ms" or "hh:mm:ss".</summary>
    public static bool TryParse(string? text, out TimeSpan duration)
    {
        duration = default;
        if (string.IsNullOrWhiteSpace(text))
            return false;
        var match = Regex.Match(text.Trim(), "^([0-9]+)(ms|s|m|h|d)$");
        if (match.Success && long.TryParse(match.Groups[1].Value, CultureInfo.InvariantCulture, out var amount) && amount <= 1_000_000)
        {
            duration = match.Groups[2].Value switch
            {
                "ms" => TimeSpan.FromMilliseconds(amount),
                "s" => TimeSpan.FromSeconds(amount),
                "m" => TimeSpan.FromMinutes(amount),
                "h" => TimeSpan.FromHours(amount),
                _ => TimeSpan.FromDays(amount),
            };
            return true;
        }
        return TimeSpan.TryParseExact(text.Trim(), "c", CultureInfo.InvariantCulture, out duration);
    }
}
