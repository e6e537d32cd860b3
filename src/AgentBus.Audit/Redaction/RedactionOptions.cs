namespace AgentBus.Audit.Redaction;

/// <summary>
/// What the long-lived audit rows must not keep. Generic rules always apply (see
/// <see cref="AuditRedactor"/>); these settings add key names and, per tool, paths into the tool
/// call's arguments and result.
/// </summary>
public sealed class RedactionOptions
{
    public const string Section = "Audit:Redaction";

    /// <summary>More key names whose values are masked wherever they appear (compared like the built-in ones).</summary>
    public List<string> SensitiveKeys { get; set; } = [];

    /// <summary>
    /// Per tool, paths whose values are masked: dotted names with <c>*</c> or <c>[*]</c> for any key
    /// or element and <c>[n]</c> for one element, relative to the arguments and to the result
    /// (start with <c>arguments.</c> or <c>result.</c> to aim at one of them), e.g.
    /// <c>body.customer.email</c>, <c>body.lines[*].iban</c>.
    /// </summary>
    public Dictionary<string, List<string>> Tools { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Mask digit runs that pass the Luhn check (payment card numbers) in any string or number.</summary>
    public bool MaskCardNumbers { get; set; } = true;

    public IEnumerable<string> Problems()
    {
        foreach (var (tool, paths) in Tools)
            foreach (var path in paths)
                if (RedactionPath.TryParse(path, out _) is { } error)
                    yield return $"{Section}:Tools:{tool}: '{path}' is not a valid path: {error}";
    }
}
