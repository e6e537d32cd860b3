using System.Buffers;

namespace AgentBus.DataBoundaries;

/// <summary>
/// Tokens of the base64 and base64url alphabets that no format claimed: decoded when they are base64
/// of text (the text is then classified instead), otherwise judged by <see cref="Randomness"/>.
/// </summary>
static partial class Detectors
{
    static readonly SearchValues<char> TokenChars = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-");

    /// <summary>Shorter tokens are neither decoded nor judged: 12 base64 characters carry 9 bytes.</summary>
    const int MinToken = 12;

    public static void Tokens(Inspection inspection, ReadOnlySpan<char> text, List<string>? decoded)
    {
        var from = 0;
        while (from < text.Length)
        {
            var found = text[from..].IndexOfAny(TokenChars);
            if (found < 0)
                return;
            var start = from + found;
            var length = text[start..].IndexOfAnyExcept(TokenChars);
            var end = length < 0 ? text.Length : start + length;
            // '=' belongs to a token only as its padding (at most two, then no more token characters).
            var padded = end;
            while (padded < text.Length && padded - end < 2 && text[padded] == '=')
                padded++;
            if (padded > end && (padded == text.Length || !TokenChars.Contains(text[padded])))
                end = padded;
            if (end - start >= MinToken)
                Token(inspection, text, start, end, decoded);
            from = end + 1;
        }
    }

    static void Token(Inspection inspection, ReadOnlySpan<char> text, int start, int end, List<string>? decoded)
    {
        if (inspection.Overlaps(start, end))
            return;
        var token = text[start..end];
        if (decoded is not null)
        {
            var plain = Decoders.Base64Text(token);
            if (plain is not null)
            {
                decoded.Add(plain);
                return;
            }
        }
        if (Randomness.LooksRandom(token))
            inspection.Report(DataClasses.HighEntropy, start, end);
    }
}

/// <summary>
/// Whether a token looks like a random secret rather than a word, an identifier, a hash or an id.
/// A secret is at least 20 letters and digits of at least two of upper case, lower case and digits,
/// that break into many short identifier words (see <see cref="MinSegmentRate"/>) and use many
/// distinct characters (Shannon entropy at least 0.8 × log2 of the length, up to 62). Never flagged: hex
/// only (hashes, git shas, UUIDs), digits only, ULIDs, SRI digests (sha256-…), known object ids
/// (Stripe's ch_, pi_, cus_ …), base64 of known file formats, tokens over 256 characters (data, not
/// credentials).
/// </summary>
static class Randomness
{
    internal const int MinAlnum = 20;
    internal const int MaxLength = 256;

    /// <summary>
    /// Identifier words per letter or digit: identifiers have about one word in five characters
    /// (getUserAccountBalance = 4 in 21, MIN_BUDGET_V1BETA1_QUEUE = 8 in 26), random base62 about one in two
    /// (a lower-case letter before an upper-case one, or a digit between letters, starts a new word).
    /// </summary>
    internal const double MinSegmentRate = 0.33;

    /// <summary>
    /// The AWS secret-key shape needs fewer words per character (AWS's documented example, padded with
    /// EXAMPLEKEY, has 0.32) but still more than a 40-character identifier (orderBudgetV1beta1MachineDecisionRequest: 0.24).
    /// </summary>
    internal const double MinAwsSegmentRate = 0.28;

    static readonly string[] ExemptPrefixes =
    [
        "sha1-", "sha256-", "sha384-", "sha512-",
        // Base64 of PNG, JPEG, GIF, PDF, ZIP (and docx/xlsx), gzip, MP4.
        "iVBORw0KGgo", "/9j/", "R0lGOD", "JVBERi0", "UEsDB", "H4sI", "AAAAIGZ0eX", "AAAAGGZ0eX", "AAAAHGZ0eX",
    ];

    /// <summary>Stripe object id prefixes (ids of charges, customers, … are not credentials).</summary>
    static readonly HashSet<string> ObjectIdPrefixes = new(StringComparer.Ordinal)
    {
        "acct", "ba", "card", "ch", "cs", "cus", "dp", "du", "evt", "fee", "file", "in", "ii", "il", "link", "pi", "pm",
        "po", "price", "prod", "promo", "py", "pyr", "re", "seti", "si", "src", "sub", "tok", "tr", "txn", "txi", "we",
    };

    public readonly record struct Features(int Alnum, int Upper, int Lower, int Digits, double SwitchRate, double SegmentRate, double Entropy, bool HexOnly);

    public static bool LooksRandom(ReadOnlySpan<char> token)
    {
        token = token.Trim("-_/+=");
        if (token.Length < MinAlnum || token.Length > MaxLength || IsExempt(token))
            return false;
        var f = Measure(token);
        if (IsAwsSecretKeyShape(token) && f.SegmentRate >= MinAwsSegmentRate)
            return true;
        if (f.Alnum < MinAlnum || f.HexOnly || f.Digits == f.Alnum)
            return false;
        var classes = (f.Upper > 0 ? 1 : 0) + (f.Lower > 0 ? 1 : 0) + (f.Digits > 0 ? 1 : 0);
        if (classes < 2)
            return false;
        return f.SegmentRate >= MinSegmentRate && f.Entropy >= 0.80 * Math.Log2(Math.Min(f.Alnum, 62)) && !EveryPartExplained(token);
    }

    /// <summary>
    /// A path or a compound name (s3://bucket/2025/06/24/491fc25d…, assets/d801db67…/logo): every part between
    /// separators (/ + - _) is a word in one case, a Capitalised word, digits or hex. A random token has
    /// at least one part that mixes cases with digits, or letters beyond hex with digits.
    /// </summary>
    static bool EveryPartExplained(ReadOnlySpan<char> token)
    {
        foreach (var range in token.SplitAny("/+-_"))
        {
            var part = token[range];
            if (part.IsEmpty || part.IndexOfAnyExcept(HexChars) < 0 || part.IndexOfAnyExceptInRange('a', 'z') < 0
                || part.IndexOfAnyExceptInRange('A', 'Z') < 0 || (char.IsAsciiLetterUpper(part[0]) && part[1..].IndexOfAnyExceptInRange('a', 'z') < 0))
                continue;
            return false;
        }
        return true;
    }

    static readonly SearchValues<char> HexChars = SearchValues.Create("0123456789abcdefABCDEF");

    /// <summary>An AWS secret access key: exactly 40 of A-Za-z0-9/+ with both cases and a digit, not a path of words (and see <see cref="MinAwsSegmentRate"/>).</summary>
    static bool IsAwsSecretKeyShape(ReadOnlySpan<char> token) =>
        token.Length == 40 && token.IndexOfAnyExcept(AwsSecretChars) < 0 && token.IndexOfAnyInRange('0', '9') >= 0
        && token.IndexOfAnyInRange('a', 'z') >= 0 && token.IndexOfAnyInRange('A', 'Z') >= 0 && !EveryPartExplained(token);

    static readonly SearchValues<char> AwsSecretChars = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+");

    static bool IsExempt(ReadOnlySpan<char> token)
    {
        foreach (var prefix in ExemptPrefixes)
        {
            if (token.StartsWith(prefix, StringComparison.Ordinal))
                return true;
        }
        if (IsUlid(token))
            return true;
        var underscore = token.IndexOf('_');
        return underscore is >= 2 and <= 5 && token.Length - underscore - 1 is >= 8 and <= 40
            && token[(underscore + 1)..].IndexOfAnyExcept(AlnumChars) < 0
            && ObjectIdPrefixes.GetAlternateLookup<ReadOnlySpan<char>>().Contains(token[..underscore]);
    }

    static readonly SearchValues<char> AlnumChars = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
    static readonly SearchValues<char> Crockford = SearchValues.Create("0123456789ABCDEFGHJKMNPQRSTVWXYZ");

    static bool IsUlid(ReadOnlySpan<char> token) =>
        token.Length == 26 && token[0] is >= '0' and <= '7' && token.IndexOfAnyExcept(Crockford) < 0;

    public static Features Measure(ReadOnlySpan<char> token)
    {
        Span<int> counts = stackalloc int[128];
        int upper = 0, lower = 0, digits = 0, switches = 0, pairs = 0, alnum = 0;
        var hexOnly = true;
        var previous = 0; // 0 none, 1 upper, 2 lower, 3 digit
        var segments = 0;
        for (var i = 0; i < token.Length; i++)
        {
            var c = token[i];
            var kind = Kind(c);
            // A segment is a word of an identifier: Upper?lower+, UPPER+, digits+ ("HTTPServer2" = HTTP, Server, 2).
            if (kind != 0 && (previous == 0 || (kind != previous && !(previous == 1 && kind == 2))
                || (previous == 1 && kind == 1 && i + 1 < token.Length && Kind(token[i + 1]) == 2)))
                segments++;
            if (c < 128)
                counts[c]++;
            if (kind == 0)
            {
                previous = 0;
                continue;
            }
            alnum++;
            if (kind == 1) upper++;
            else if (kind == 2) lower++;
            else digits++;
            hexOnly &= char.IsAsciiHexDigit(c);
            if (previous != 0)
            {
                pairs++;
                if (previous != kind)
                    switches++;
            }
            previous = kind;
        }
        var entropy = 0.0;
        foreach (var count in counts)
        {
            if (count > 0)
            {
                var p = (double)count / token.Length;
                entropy -= p * Math.Log2(p);
            }
        }
        return new Features(alnum, upper, lower, digits, pairs == 0 ? 0 : (double)switches / pairs, alnum == 0 ? 0 : (double)segments / alnum, entropy, hexOnly);
    }

    static int Kind(char c) => char.IsAsciiLetterUpper(c) ? 1 : char.IsAsciiLetterLower(c) ? 2 : char.IsAsciiDigit(c) ? 3 : 0;
}
