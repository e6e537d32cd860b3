using System.Collections.Frozen;
using System.Globalization;
using System.Text;

namespace AgentBus.DataBoundaries;

/// <summary>
/// What one operation may receive for one agent: the classes it accepts, and for some of them how
/// many matches at most. Everything the classifier finds outside that is refused; so is a document
/// the classifier could not read to the end. <see cref="Closed"/> (accept nothing) is the default:
/// an operation that declares nothing receives no secret and no personal data.
/// </summary>
public sealed class DataBoundary
{
    public static DataBoundary Closed { get; } = new([], new Dictionary<string, int>());

    public DataBoundary(IEnumerable<string> accepts, IReadOnlyDictionary<string, int> max)
    {
        Accepts = accepts.ToFrozenSet(StringComparer.Ordinal);
        Max = max.ToFrozenDictionary(StringComparer.Ordinal);
    }

    public IReadOnlySet<string> Accepts { get; }

    /// <summary>Class → the most matches a proposal may carry (summed over every value); classes absent are unlimited.</summary>
    public IReadOnlyDictionary<string, int> Max { get; }

    /// <summary>
    /// This boundary narrowed by a grant: only classes both accept, each at the lower of the two
    /// limits. A grant cannot widen what its operation accepts; null members leave that part alone.
    /// </summary>
    public DataBoundary Narrow(IReadOnlyCollection<string>? accepts, IReadOnlyDictionary<string, int>? max)
    {
        if (accepts is null && max is null)
            return this;
        var narrowedAccepts = accepts is null ? Accepts : Accepts.Where(accepts.Contains);
        var narrowedMax = new Dictionary<string, int>(Max, StringComparer.Ordinal);
        foreach (var (dataClass, limit) in max ?? new Dictionary<string, int>())
            narrowedMax[dataClass] = narrowedMax.TryGetValue(dataClass, out var own) ? Math.Min(own, limit) : limit;
        var kept = narrowedAccepts.ToList();
        return new DataBoundary(kept, narrowedMax.Where(m => kept.Contains(m.Key)).ToDictionary());
    }

    /// <summary>"pii.email (at most 1), pii.phone", or "nothing".</summary>
    public string Describe() =>
        Accepts.Count == 0
            ? "nothing"
            : string.Join(", ", Accepts.Order(StringComparer.Ordinal).Select(c => Max.TryGetValue(c, out var limit)
                ? $"{c} (at most {limit.ToString(CultureInfo.InvariantCulture)})"
                : c));

    /// <summary>What of <paramref name="classification"/> this boundary refuses; null when it holds.</summary>
    public DataBoundaryBreach? Check(DataClassification classification)
    {
        List<DataFinding>? refused = null;
        Dictionary<string, int>? counts = null;
        foreach (var finding in classification.Findings)
        {
            if (!Accepts.Contains(finding.Class))
                (refused ??= []).Add(finding);
            else if (Max.ContainsKey(finding.Class))
            {
                counts ??= new Dictionary<string, int>(StringComparer.Ordinal);
                counts[finding.Class] = counts.GetValueOrDefault(finding.Class) + finding.Occurrences;
            }
        }
        List<DataLimitExceeded>? over = null;
        if (counts is not null)
        {
            foreach (var (dataClass, found) in counts.OrderBy(c => c.Key, StringComparer.Ordinal))
            {
                if (found > Max[dataClass])
                    (over ??= []).Add(new DataLimitExceeded(dataClass, found, Max[dataClass],
                        classification.Findings.Where(f => f.Class == dataClass).ToList()));
            }
        }
        if (refused is null && over is null && classification.Complete)
            return null;
        return new DataBoundaryBreach(refused ?? [], over ?? [], classification.Truncation);
    }

    /// <summary>What is wrong with declared accepts and max (unknown classes, limits on classes not accepted, negative limits).</summary>
    public static IEnumerable<string> Problems(IReadOnlyCollection<string>? accepts, IReadOnlyDictionary<string, int>? max)
    {
        foreach (var dataClass in accepts ?? [])
        {
            if (!DataClasses.All.Contains(dataClass))
                yield return $"accepts names unknown data class '{dataClass}'; known: {string.Join(", ", DataClasses.All)}.";
        }
        if (accepts is not null && accepts.Distinct(StringComparer.Ordinal).Count() != accepts.Count)
            yield return "accepts names a data class twice.";
        foreach (var (dataClass, limit) in max ?? new Dictionary<string, int>())
        {
            if (!DataClasses.All.Contains(dataClass))
                yield return $"max names unknown data class '{dataClass}'; known: {string.Join(", ", DataClasses.All)}.";
            else if (accepts is not null && !accepts.Contains(dataClass))
                yield return $"max limits '{dataClass}', which accepts does not list (a class not accepted is refused whatever its count).";
            if (limit < 1)
                yield return $"max for '{dataClass}' is {limit}; a limit is at least 1 (to accept none, leave the class out of accepts).";
        }
    }
}

/// <summary>A class accepted only so many times, found more often, and where.</summary>
public sealed record DataLimitExceeded(string Class, int Found, int Max, IReadOnlyList<DataFinding> Findings);

/// <summary>
/// Why a boundary refused a document: classes it does not accept (with their pointers), classes over
/// their limit, and whether the classifier stopped early. Describes places and classes, never values.
/// </summary>
public sealed record DataBoundaryBreach(IReadOnlyList<DataFinding> Refused, IReadOnlyList<DataLimitExceeded> OverLimit, string? Truncation)
{
    /// <summary>Pointers quote the sender's member names (made safe by <see cref="DataPointers.Safe"/>): each is cut to this many characters.</summary>
    public const int MaxPointerChars = 120;

    /// <summary>Findings named in one description; the rest are counted.</summary>
    public const int MaxListed = 10;

    public IEnumerable<string> Classes => Refused.Select(f => f.Class).Concat(OverLimit.Select(o => o.Class)).Distinct(StringComparer.Ordinal);

    /// <summary>"pii.card at /description; secret.api_key at /note (base64); pii.email 3 times at /to, /cc (at most 1)".</summary>
    public string Describe()
    {
        var parts = new List<string>();
        var listed = 0;
        foreach (var group in Refused.GroupBy(f => f.Class, StringComparer.Ordinal))
        {
            var places = new List<string>();
            foreach (var finding in group)
            {
                if (listed++ >= MaxListed)
                    break;
                places.Add(Place(finding));
            }
            var more = group.Count() - places.Count;
            if (places.Count > 0)
                parts.Add($"{group.Key} at {string.Join(", ", places)}{(more > 0 ? $" and {more} more" : "")}");
            else
                parts.Add($"{group.Key} ({group.Count()} more places)");
        }
        foreach (var over in OverLimit)
        {
            var places = over.Findings.Take(Math.Max(1, MaxListed - listed)).Select(Place).ToList();
            listed += places.Count;
            var more = over.Findings.Count - places.Count;
            parts.Add($"{over.Class} {over.Found} times at {string.Join(", ", places)}{(more > 0 ? $" and {more} more" : "")} (at most {over.Max})");
        }
        if (Truncation is not null)
            parts.Add($"and the classifier stopped early ({Truncation}), so the rest was not inspected and counts as sensitive");
        return string.Join("; ", parts);
    }

    static string Place(DataFinding finding)
    {
        var pointer = finding.Pointer.Length == 0 ? "the whole document" : DataPointers.Safe(finding.Pointer);
        if (pointer.Length > MaxPointerChars)
            pointer = pointer[..MaxPointerChars] + "…";
        var builder = new StringBuilder(pointer);
        if (finding.InPropertyName)
            builder.Append(" (in the member's name)");
        if (finding.Encoding is { } encoding)
            builder.Append(encoding == DataEncodings.Split ? " (split across its values)" : $" ({encoding}-encoded)");
        return builder.ToString();
    }
}
