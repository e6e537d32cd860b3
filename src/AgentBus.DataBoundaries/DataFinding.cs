namespace AgentBus.DataBoundaries;

/// <summary>
/// One kind of sensitive data at one place. It never holds the value, nor any part of it: only the
/// class, the JSON Pointer (RFC 6901) of the value (or, for <see cref="DataEncodings.Split"/>, of the
/// object or array whose values together hold it), and the encoding it was found in.
/// </summary>
/// <param name="Class">One of <see cref="DataClasses"/>.</param>
/// <param name="Pointer">RFC 6901 pointer into the classified document; "" for the document itself.</param>
/// <param name="Encoding">null when found as written, else one of <see cref="DataEncodings"/>.</param>
/// <param name="InPropertyName">The data is in the name of the member at <paramref name="Pointer"/>, not its value.</param>
public sealed record DataFinding(string Class, string Pointer, string? Encoding = null, bool InPropertyName = false)
{
    /// <summary>
    /// How many separate matches of the class the value holds (three addresses in one string are 3), the
    /// most any one reading of it found (as written, or decoded); what an operation's <c>max</c> counts.
    /// </summary>
    public int Occurrences { get; init; } = 1;
}
