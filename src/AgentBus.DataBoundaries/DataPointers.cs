using System.Text;

namespace AgentBus.DataBoundaries;

/// <summary>
/// A JSON Pointer made safe to show: its segments are member names the sender chose, and a name can
/// itself be a secret or an address ({"AKIA…": {…}}). Each segment the classifier finds something in
/// becomes "[masked:CLASS]"; a long one is cut. The result names a place for people, and may no longer
/// resolve in the document.
/// </summary>
public static class DataPointers
{
    public const int MaxSegmentChars = 64;

    static readonly ClassifierOptions SegmentOptions = new() { JoinSplitValues = false, PropertyNames = false, MaxInspectedChars = 4096 };

    /// <summary>The unescaped reference tokens of a pointer the classifier made ("" has none).</summary>
    public static List<string> Tokens(string pointer) =>
        pointer.Split('/').Skip(1).Select(s => s.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal)).ToList();

    public static string Safe(string pointer)
    {
        if (pointer.Length == 0)
            return pointer;
        var builder = new StringBuilder(pointer.Length);
        var tokens = Tokens(pointer);
        var segments = pointer.Split('/').Skip(1).ToList();
        for (var i = 0; i < tokens.Count; i++)
        {
            var (segment, name) = (segments[i], tokens[i]);
            builder.Append('/');
            var found = name.Length < 6 ? null : DataClassifier.Classify(name, SegmentOptions).Findings.Select(f => f.Class).Order(StringComparer.Ordinal).FirstOrDefault();
            if (found is not null)
                builder.Append("[masked:").Append(found).Append(']');
            else if (segment.Length > MaxSegmentChars)
                builder.Append(segment.AsSpan(0, MaxSegmentChars)).Append('…');
            else
                builder.Append(segment);
        }
        return builder.ToString();
    }
}
