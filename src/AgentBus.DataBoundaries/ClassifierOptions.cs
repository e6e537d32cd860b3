namespace AgentBus.DataBoundaries;

/// <summary>Bounds and switches of a classification. The defaults inspect a 1 MiB-character document fully.</summary>
public sealed record ClassifierOptions
{
    public static ClassifierOptions Default { get; } = new();

    /// <summary>UTF-16 characters read in all, counting names, values and every decoded variant.</summary>
    public int MaxInspectedChars { get; init; } = 1 << 20;

    /// <summary>Findings kept; the next one makes the classification incomplete.</summary>
    public int MaxFindings { get; init; } = 100;

    /// <summary>Nesting of objects and arrays read; deeper values are not inspected.</summary>
    public int MaxDepth { get; init; } = 128;

    /// <summary>Inspect property names as well as values.</summary>
    public bool PropertyNames { get; init; } = true;

    /// <summary>Classify the percent-decoded form of strings that hold <c>%XX</c>.</summary>
    public bool DecodeUrl { get; init; } = true;

    /// <summary>Classify the decoded text of base64 and base64url tokens that decode to UTF-8 text.</summary>
    public bool DecodeBase64 { get; init; } = true;

    /// <summary>Classify the concatenation of adjacent short sibling values (strings and numbers).</summary>
    public bool JoinSplitValues { get; init; } = true;
}
