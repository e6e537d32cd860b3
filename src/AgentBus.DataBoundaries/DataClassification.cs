namespace AgentBus.DataBoundaries;

/// <summary>
/// The findings of one classification, at most one per class, pointer and place (name or value).
/// <see cref="Complete"/> is false when a limit stopped the inspection before every string was read
/// (<see cref="Truncation"/> says which); a caller enforcing a boundary should then treat the
/// document as unknown rather than clean.
/// </summary>
public sealed record DataClassification(IReadOnlyList<DataFinding> Findings, string? Truncation)
{
    public const string MaxInspectedChars = "max_inspected_chars";
    public const string MaxFindings = "max_findings";
    public const string MaxDepth = "max_depth";

    public bool Complete => Truncation is null;

    public bool Contains(string dataClass) => Findings.Any(f => f.Class == dataClass);
}
