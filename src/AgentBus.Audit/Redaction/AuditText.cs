using System.Text;

namespace AgentBus.Audit.Redaction;

/// <summary>
/// Makes any string storable in PostgreSQL text: NUL characters and unpaired UTF-16 surrogates
/// (which agents can send as JSON escapes) become U+FFFD, and identifiers are capped so a hostile
/// value cannot overflow an index row.
/// </summary>
public static class AuditText
{
    public const int MaxIdentifierLength = 512;
    const char Replacement = '\uFFFD';

    public static string? Identifier(string? value)
    {
        if (string.IsNullOrEmpty(value))
            return null;
        var clean = Clean(value);
        return clean.Length <= MaxIdentifierLength ? clean : clean[..(MaxIdentifierLength - 1)] + "…";
    }

    public static string Clean(string value)
    {
        var bad = FirstBad(value);
        if (bad < 0)
            return value;

        var builder = new StringBuilder(value.Length);
        builder.Append(value, 0, bad);
        for (var i = bad; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '\0')
                builder.Append(Replacement);
            else if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                builder.Append(c).Append(value[i + 1]);
                i++;
            }
            else if (char.IsSurrogate(c))
                builder.Append(Replacement);
            else
                builder.Append(c);
        }
        return builder.ToString();
    }

    static int FirstBad(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '\0')
                return i;
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
                continue;
            }
            if (char.IsSurrogate(c))
                return i;
        }
        return -1;
    }
}
