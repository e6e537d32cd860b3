using System.Globalization;
using AgentBus.Audit.Gates;

namespace AgentBus.Audit.Stories;

/// <summary>
/// A point in time as operators write it, for the CLI's --since/--until and the console's filters alike:
/// a duration back from now (7d, 12h, 30m) or a date or time, UTC unless it says otherwise.
/// </summary>
public static class TimeFilter
{
    public const string Forms = "a duration back from now (7d, 12h, 30m) or a date/time (2026-11-01, 2026-11-01T08:00Z)";

    public static bool TryParse(string? text, DateTimeOffset now, out DateTimeOffset at)
    {
        at = default;
        if (string.IsNullOrWhiteSpace(text))
            return false;
        text = text.Trim();
        // "01:30:00" is a time of day here, not a span back from now.
        if (Duration.TryParse(text, out var back) && !text.Contains(':', StringComparison.Ordinal))
        {
            if (back > now - DateTimeOffset.UnixEpoch)
                return false;
            at = now - back;
            return true;
        }
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out at);
    }
}
