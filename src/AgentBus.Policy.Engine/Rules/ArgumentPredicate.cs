using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace AgentBus.Policy.Engine.Rules;

/// <summary>
/// One compiled test on one argument: numeric bounds, an enumeration, a pattern, a length. Used as a
/// grant constraint (every value the pointer names must pass; an absent one fails unless optional)
/// and inside approval conditions (any value passing makes the condition hold; an absent one holds,
/// so a missing amount asks a human rather than slipping through).
/// </summary>
public sealed class ArgumentPredicate
{
    public required string RuleId { get; init; }
    public required ArgumentPointer Pointer { get; init; }
    public decimal? Min { get; init; }
    public decimal? Max { get; init; }
    public decimal? Above { get; init; }
    public decimal? Below { get; init; }
    public IReadOnlyList<string>? In { get; init; }
    public Regex? Pattern { get; init; }
    public int? MaxLength { get; init; }
    public bool Optional { get; init; }
    public int Line { get; init; }

    bool IsNumeric => Min is not null || Max is not null || Above is not null || Below is not null;

    /// <summary>How it reads to a person: "/body/amountUsd > 100 and <= 1000".</summary>
    public string Describe()
    {
        var parts = new List<string>();
        if (Min is { } min) parts.Add($">= {min.ToString(CultureInfo.InvariantCulture)}");
        if (Above is { } above) parts.Add($"> {above.ToString(CultureInfo.InvariantCulture)}");
        if (Max is { } max) parts.Add($"<= {max.ToString(CultureInfo.InvariantCulture)}");
        if (Below is { } below) parts.Add($"< {below.ToString(CultureInfo.InvariantCulture)}");
        if (In is { } values) parts.Add($"in [{string.Join(", ", values)}]");
        if (Pattern is { } pattern) parts.Add($"matches '{pattern}'");
        if (MaxLength is { } length) parts.Add($"at most {length} characters");
        return $"{Pointer} {string.Join(" and ", parts)}{(Optional ? " (when present)" : "")}";
    }

    /// <summary>A grant constraint: null when it holds, otherwise why not.</summary>
    public string? Violation(JsonElement arguments)
    {
        if (!Pointer.HasWildcard)
        {
            if (!Pointer.TryResolve(arguments, out var value))
                return Optional ? null : $"argument {Pointer} is missing";
            return Fails(value);
        }

        string? failure = null;
        Pointer.ForEach(arguments, this, (value, self) => (failure = self.Fails(value)) is null, out var found);
        if (!found && !Optional)
            return $"argument {Pointer} is missing";
        return failure;
    }

    /// <summary>An approval condition term: true when some value passes, or when the argument is absent.</summary>
    public bool Matches(JsonElement arguments)
    {
        if (!Pointer.HasWildcard)
            return !Pointer.TryResolve(arguments, out var value) || Fails(value) is null;

        var matched = false;
        Pointer.ForEach(arguments, this, (value, self) => !(matched = self.Fails(value) is null), out var found);
        return matched || !found;
    }

    string? Fails(JsonElement value)
    {
        if (IsNumeric)
        {
            if (value.ValueKind != JsonValueKind.Number || !value.TryGetDecimal(out var number))
                return $"argument {Pointer} must be a number";
            if (Min is { } min && number < min)
                return $"argument {Pointer} is {Format(number)}, below the minimum {Format(min)}";
            if (Max is { } max && number > max)
                return $"argument {Pointer} is {Format(number)}, above the maximum {Format(max)}";
            if (Above is { } above && number <= above)
                return $"argument {Pointer} is {Format(number)}; it must be above {Format(above)}";
            if (Below is { } below && number >= below)
                return $"argument {Pointer} is {Format(number)}; it must be below {Format(below)}";
        }

        if (In is { } allowed && !Contains(allowed, value))
            return $"argument {Pointer} is {Truncate(value)}, not one of [{string.Join(", ", allowed)}]";

        if (Pattern is not null || MaxLength is not null)
        {
            if (value.ValueKind != JsonValueKind.String)
                return $"argument {Pointer} must be a string";
            if (MaxLength is { } length && !JsonText.CertainlyAtMost(value, length) && value.GetString()!.Length > length)
                return $"argument {Pointer} is {value.GetString()!.Length} characters long, more than {length}";
            if (Pattern is { } pattern && !JsonText.IsMatch(pattern, value))
                return $"argument {Pointer} does not match '{pattern}'";
        }
        return null;
    }

    static bool Contains(IReadOnlyList<string> allowed, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                for (var i = 0; i < allowed.Count; i++)
                    if (value.ValueEquals(allowed[i]))
                        return true;
                return false;
            case JsonValueKind.Number when value.TryGetDecimal(out var number):
                for (var i = 0; i < allowed.Count; i++)
                    if (decimal.TryParse(allowed[i], NumberStyles.Float, CultureInfo.InvariantCulture, out var candidate) && candidate == number)
                        return true;
                return false;
            case JsonValueKind.True:
                return allowed.Contains("true");
            case JsonValueKind.False:
                return allowed.Contains("false");
            default:
                return false;
        }
    }

    static string Format(decimal value) => value.ToString(CultureInfo.InvariantCulture);

    static string Truncate(JsonElement value)
    {
        var text = value.GetRawText();
        return text.Length <= 64 ? text : text[..64] + "…";
    }
}
