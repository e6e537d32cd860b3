using System.Buffers;

namespace AgentBus.DataBoundaries;

/// <summary>
/// Personal data: e-mail addresses from each <c>@</c>, and everything numeric (cards, phones, US
/// SSNs, IBANs, UK National Insurance numbers) from each run of digits, parsed once as groups of
/// digits with their separators and tried against each format. Every format needs a boundary on
/// both sides: a number glued to letters or to another number (<c>ORD-555-123-4567</c>) is an identifier.
/// </summary>
static partial class Detectors
{
    static readonly SearchValues<char> LocalPart = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-");
    static readonly SearchValues<char> Domain = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-");

    /// <summary>File extensions that are not top-level domains: <c>logo@2x.png</c> is an image, not an address.</summary>
    static readonly HashSet<string> FileExtensions = new(StringComparer.OrdinalIgnoreCase)
    {
        "png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "tif", "tiff", "css", "js", "mjs", "ts", "tsx", "jsx",
        "json", "map", "txt", "log", "yaml", "yml", "xml", "html", "htm", "csv", "lock", "dll", "exe", "cs", "java",
    };

    /// <summary><c>local@domain.tld</c>: a local part of 1–64 of <c>A-Za-z0-9._%+-</c>, a domain of ≥ 2 labels, an alphabetic TLD of 2–24 letters.</summary>
    public static void Emails(Inspection inspection, ReadOnlySpan<char> text)
    {
        var from = 0;
        while (from < text.Length)
        {
            var found = text[from..].IndexOf('@');
            if (found < 0)
                return;
            var at = from + found;
            from = at + 1;
            if (inspection.IsCovered(at))
                continue;
            var localStart = at;
            while (localStart > 0 && at - localStart < 64 && LocalPart.Contains(text[localStart - 1]))
                localStart--;
            while (localStart < at && text[localStart] is '.' or '-' or '+')
                localStart++;
            if (localStart == at || text[at - 1] == '.')
                continue;
            // scheme://user@host: the user name of a URL, not a mailbox.
            if (localStart >= 3 && text[(localStart - 3)..localStart].SequenceEqual("://"))
                continue;
            var domainEnd = at + 1 + Run(text, at + 1, Domain);
            while (domainEnd > at + 1 && text[domainEnd - 1] is '.' or '-')
                domainEnd--;
            if (domainEnd - at - 1 > 253 || !IsDomain(text[(at + 1)..domainEnd]))
                continue;
            // git@github.com:owner/repo is an SSH remote, not a mailbox.
            if (domainEnd < text.Length && text[domainEnd] == ':' && text[localStart..at].SequenceEqual("git"))
                continue;
            inspection.Report(DataClasses.Email, localStart, domainEnd);
            from = domainEnd;
        }
    }

    static bool IsDomain(ReadOnlySpan<char> domain)
    {
        var labels = 0;
        var tld = ReadOnlySpan<char>.Empty;
        foreach (var range in domain.Split('.'))
        {
            var label = domain[range];
            if (label.IsEmpty || label.Length > 63 || label[0] == '-' || label[^1] == '-')
                return false;
            labels++;
            tld = label;
        }
        return labels >= 2 && tld.Length is >= 2 and <= 24 && tld.IndexOfAnyExcept(Letters) < 0
            && !FileExtensions.GetAlternateLookup<ReadOnlySpan<char>>().Contains(tld);
    }

    /// <summary>A run of digit groups: where each starts, how long it is, and the separator before it.</summary>
    ref struct Groups
    {
        public const int Max = 8;
        public Span<int> Start;
        public Span<int> Length;
        public Span<char> Separator; // before group i; '\0' for the first
        public int Count;
        public bool Plus;            // '+' right before the first group
        public bool Parenthesised;   // the first group is in parentheses "(415)"
        public bool GluedEnd;        // the last group runs into a word ("… 1e309"): only runs ending before it count
        public int Digits;

        public readonly int End => Start[Count - 1] + Length[Count - 1];
    }

    public static void Numbers(Inspection inspection, ReadOnlySpan<char> text)
    {
        Span<int> starts = stackalloc int[Groups.Max];
        Span<int> lengths = stackalloc int[Groups.Max];
        Span<char> separators = stackalloc char[Groups.Max];
        Span<char> digits = stackalloc char[24];
        var from = 0;
        while (from < text.Length)
        {
            var found = text[from..].IndexOfAnyInRange('0', '9');
            if (found < 0)
                return;
            var at = from + found;
            var next = LetteredIds(inspection, text, at);
            if (next < 0)
            {
                var groups = new Groups { Start = starts, Length = lengths, Separator = separators };
                next = ReadGroups(text, at, ref groups);
                if (groups.Count > 0 && !inspection.IsCovered(at))
                    NumericFormats(inspection, text, ref groups, digits);
            }
            from = Math.Max(next, at + 1);
        }
    }

    /// <summary>IBANs and NINOs start with letters: tried when a digit run follows two capitals.</summary>
    static int LetteredIds(Inspection inspection, ReadOnlySpan<char> text, int at)
    {
        if (at >= 2 && char.IsAsciiLetterUpper(text[at - 2]) && char.IsAsciiLetterUpper(text[at - 1]) && StartsWord(text, at - 2))
        {
            var end = Iban(text, at - 2);
            if (end > 0)
            {
                inspection.Report(DataClasses.Iban, at - 2, end);
                return end;
            }
            end = Nino(text, at - 2);
            if (end > 0)
            {
                inspection.Report(DataClasses.UkNino, at - 2, end);
                return end;
            }
        }
        if (at >= 3 && text[at - 1] == ' ' && char.IsAsciiLetterUpper(text[at - 3]) && char.IsAsciiLetterUpper(text[at - 2]) && StartsWord(text, at - 3))
        {
            var end = Nino(text, at - 3);
            if (end > 0)
            {
                inspection.Report(DataClasses.UkNino, at - 3, end);
                return end;
            }
        }
        return -1;
    }

    /// <summary>
    /// Reads digit groups from <paramref name="at"/>: separated by one space, hyphen or dot, or by a closing
    /// parenthesis and an optional space; returns where reading stopped. Count stays 0 when the run is glued
    /// to a word or another number on the left.
    /// </summary>
    static int ReadGroups(ReadOnlySpan<char> text, int at, ref Groups groups)
    {
        var position = at;
        var length = Run(text, position, Digit);
        var start = at;
        if (at > 0 && text[at - 1] == '+')
        {
            groups.Plus = true;
            start = at - 1;
        }
        else if (at > 0 && text[at - 1] == '(' && length is >= 2 and <= 5 && at + length < text.Length && text[at + length] == ')')
        {
            // "(415) 555-2671", "(020) 7946 0958": an area code. Otherwise the parenthesis is punctuation.
            groups.Parenthesised = true;
            start = at - 1;
        }
        // Only this group is glued ("#2", "x=1"): a number after the next space starts afresh.
        if (!LeftBoundary(text, start))
            return at + length;
        while (true)
        {
            if (groups.Count == Groups.Max || groups.Digits + length > 24)
                return SkipNumber(text, at);
            groups.Start[groups.Count] = position;
            groups.Length[groups.Count] = length;
            groups.Digits += length;
            groups.Count++;
            position += length;
            if (groups.Count == 1 && groups.Parenthesised)
            {
                if (position >= text.Length || text[position] != ')')
                {
                    groups.Count = 0;
                    return position;
                }
                var afterParen = position + 1;
                if (afterParen < text.Length && text[afterParen] is ' ' or '-')
                    afterParen++;
                if (afterParen < text.Length && char.IsAsciiDigit(text[afterParen]))
                {
                    groups.Separator[groups.Count] = ')';
                    position = afterParen;
                    length = Run(text, position, Digit);
                    continue;
                }
                groups.Parenthesised = false;
                return position + 1;
            }
            // +1 (415) 555-2671: a parenthesised group after the country code.
            if (groups.Plus && position + 2 < text.Length && text[position] == ' ' && text[position + 1] == '(' && char.IsAsciiDigit(text[position + 2]))
            {
                var inner = Run(text, position + 2, Digit);
                var close = position + 2 + inner;
                var next = close + 1;
                if (next < text.Length && text[next] is ' ' or '-')
                    next++;
                if (close < text.Length && text[close] == ')' && next < text.Length && char.IsAsciiDigit(text[next]))
                {
                    if (groups.Count + 1 >= Groups.Max)
                        return SkipNumber(text, at);
                    groups.Separator[groups.Count] = '(';
                    groups.Start[groups.Count] = position + 2;
                    groups.Length[groups.Count] = inner;
                    groups.Digits += inner;
                    groups.Count++;
                    groups.Separator[groups.Count] = ')';
                    position = next;
                    length = Run(text, position, Digit);
                    continue;
                }
            }
            if (position + 1 < text.Length && text[position] is ' ' or '-' or '.' && char.IsAsciiDigit(text[position + 1]))
            {
                if (groups.Count == Groups.Max)
                    return SkipNumber(text, at);
                groups.Separator[groups.Count] = text[position];
                position++;
                length = Run(text, position, Digit);
                continue;
            }
            if (!RightBoundary(text, position))
            {
                if (groups.Count > 1 && groups.Separator[groups.Count - 1] == ' ')
                    groups.GluedEnd = true;
                else
                    groups.Count = 0;
            }
            return position;
        }
    }

    static readonly SearchValues<char> Digit = SearchValues.Create("0123456789");
    static readonly SearchValues<char> NumberParts = SearchValues.Create("0123456789 -.");

    static int SkipNumber(ReadOnlySpan<char> text, int at) => at + Run(text, at, NumberParts);

    /// <summary>Not glued on the left to a word, or to a word through a hyphen, dot, slash or underscore (<c>ORD-4111…</c>).</summary>
    static bool LeftBoundary(ReadOnlySpan<char> text, int start)
    {
        if (start == 0)
            return true;
        var before = text[start - 1];
        if (char.IsAsciiLetterOrDigit(before) || before is '_' or '+' or '$' or '€' or '£' or '#')
            return false;
        if (before == ':' && start >= 2 && char.IsAsciiDigit(text[start - 2]))
            return false;
        return !(before is '-' or '.' or '/' && start >= 2 && char.IsAsciiLetterOrDigit(text[start - 2]));
    }

    static bool RightBoundary(ReadOnlySpan<char> text, int end)
    {
        if (end >= text.Length)
            return true;
        var after = text[end];
        if (char.IsAsciiLetterOrDigit(after) || after is '_' or '%')
            return false;
        return !(after is '-' or '.' or '/' or ',' or ':' && end + 1 < text.Length && char.IsAsciiLetterOrDigit(text[end + 1]));
    }

    static void NumericFormats(Inspection inspection, ReadOnlySpan<char> text, ref Groups groups, Span<char> digits)
    {
        // The whole run first, then shorter runs that start or end at a space: "qty 2 4111 1111 1111 1111",
        // "4111 1111 1111 1111 2026". A run starts at the run's start or after a space, never mid-group.
        var total = groups.Count;
        var lastEnd = groups.GluedEnd ? total - 1 : total;
        for (var first = 0; first < lastEnd; first++)
        {
            if (first > 0 && groups.Separator[first] != ' ')
                continue;
            for (var count = lastEnd - first; count >= 1; count--)
            {
                var end = first + count;
                if (end < total && groups.Separator[end] != ' ')
                    continue;
                var run = new Groups
                {
                    Start = groups.Start[first..], Length = groups.Length[first..], Separator = groups.Separator[first..], Count = count,
                    Plus = first == 0 && groups.Plus, Parenthesised = first == 0 && groups.Parenthesised,
                };
                var length = 0;
                for (var i = 0; i < count; i++)
                {
                    text.Slice(run.Start[i], run.Length[i]).CopyTo(digits[length..]);
                    length += run.Length[i];
                }
                var number = digits[..length];
                var cls = Card(ref run, number) ? DataClasses.Card
                    : Ssn(text, ref run) ? DataClasses.UsSsn
                    : Phone(ref run, number) ? DataClasses.Phone
                    : null;
                if (cls is not null)
                {
                    var start = run.Start[0] - (run.Plus || run.Parenthesised ? 1 : 0);
                    inspection.Report(cls, start, run.End);
                    return;
                }
            }
        }
    }

    /// <summary>13–19 digits, Luhn-valid, of a known issuer range and length; grouped only with one kind of separator (space or hyphen), groups of 3–6 (the last 1–6).</summary>
    static bool Card(ref Groups groups, ReadOnlySpan<char> number)
    {
        if (groups.Plus || groups.Parenthesised || number.Length is < 13 or > 19)
            return false;
        for (var i = 1; i < groups.Count; i++)
        {
            if (groups.Separator[i] != groups.Separator[1] || groups.Separator[i] is not (' ' or '-'))
                return false;
        }
        if (groups.Count > 1)
        {
            for (var i = 0; i < groups.Count; i++)
            {
                if (groups.Length[i] > 6 || (groups.Length[i] < 3 && i < groups.Count - 1))
                    return false;
            }
        }
        return Checksums.IssuerAccepts(number) && Checksums.Luhn(number);
    }

    /// <summary>US SSN written AAA-GG-SSSS (hyphens or spaces, the same twice): area not 000, 666 or 9xx, group not 00, serial not 0000, and not the two numbers published in advertising (078-05-1120, 219-09-9999).</summary>
    static bool Ssn(ReadOnlySpan<char> text, ref Groups groups)
    {
        if (groups.Count != 3 || groups.Plus || groups.Parenthesised || groups.Length[0] != 3 || groups.Length[1] != 2 || groups.Length[2] != 4)
            return false;
        if (groups.Separator[1] != groups.Separator[2] || groups.Separator[1] is not ('-' or ' '))
            return false;
        var area = text.Slice(groups.Start[0], 3);
        var group = text.Slice(groups.Start[1], 2);
        var serial = text.Slice(groups.Start[2], 4);
        if (area is "000" or "666" || area[0] == '9' || group is "00" || serial is "0000")
            return false;
        return !(area is "078" && group is "05" && serial is "1120") && !(area is "219" && group is "09" && serial is "9999");
    }

    /// <summary>
    /// E.164 with its plus (8–15 digits, country code not 0, any grouping); NANP (NXX) NXX-XXXX or NXX-NXX-XXXX with
    /// separators, optionally after 1; UK national 0… in two or three space-separated groups of 11 digits;
    /// French national 0X XX XX XX XX. A bare run of digits without a plus is never a phone number.
    /// </summary>
    static bool Phone(ref Groups groups, ReadOnlySpan<char> number)
    {
        if (groups.Plus)
            return number.Length is >= 8 and <= 15 && number[0] != '0';
        if (groups.Count < 2)
            return false;
        // NANP, optionally with a leading 1 group.
        var first = groups.Count == 4 && groups.Length[0] == 1 && number[0] == '1' && !groups.Parenthesised ? 1 : 0;
        if (groups.Count - first == 3 && groups.Length[first] == 3 && groups.Length[first + 1] == 3 && groups.Length[first + 2] == 4)
        {
            var area = number[first];
            var exchange = number[first + 3];
            var separatorsAgree = groups.Separator[first + 1] == ')' || groups.Separator[first + 1] == groups.Separator[first + 2] || first == 1;
            if (area is >= '2' and <= '9' && exchange is >= '2' and <= '9' && separatorsAgree)
                return true;
        }
        if (groups.Parenthesised)
            return false;
        var spaces = true;
        for (var i = 1; i < groups.Count; i++)
            spaces &= groups.Separator[i] == ' ';
        // UK: 020 7946 0958, 0161 496 0000, 01632 960123, 07700 900123.
        if (spaces && number.Length == 11 && number[0] == '0' && number[1] != '0' && groups.Count is 2 or 3 && groups.Length[0] is >= 3 and <= 5)
            return true;
        // France: 01 23 45 67 89 (or with dots).
        if (groups.Count == 5 && number.Length == 10 && number[0] == '0' && number[1] != '0')
        {
            for (var i = 0; i < 5; i++)
            {
                if (groups.Length[i] != 2 || (i > 0 && groups.Separator[i] != groups.Separator[1]) || (i > 0 && groups.Separator[i] is not (' ' or '.')))
                    return false;
            }
            return true;
        }
        return false;
    }

    /// <summary>ISO 13616: country code with its registered length, two check digits, BBAN; written compact or in groups of four; mod 97 = 1.</summary>
    static int Iban(ReadOnlySpan<char> text, int start)
    {
        if (!Checksums.IbanLength(text.Slice(start, 2), out var length))
            return -1;
        Span<char> iban = stackalloc char[34];
        var count = 0;
        var position = start;
        while (count < length && position < text.Length)
        {
            var c = text[position];
            if (c == ' ' && count % 4 == 0 && count > 0 && position + 1 < text.Length && text[position + 1] != ' ')
            {
                position++;
                continue;
            }
            if (!char.IsAsciiLetterUpper(c) && !char.IsAsciiDigit(c))
                return -1;
            iban[count++] = c;
            position++;
        }
        if (count != length || (position < text.Length && char.IsAsciiLetterOrDigit(text[position])))
            return -1;
        return Checksums.IbanValid(iban[..count]) ? position : -1;
    }

    /// <summary>
    /// UK National Insurance number: two prefix letters (first not D F I Q U V; second not D F I O Q U V; not BG GB
    /// KN NK NT TN ZZ), six digits, suffix A–D; compact (AB123456C) or spaced (AB 12 34 56 C). Upper case only.
    /// </summary>
    static int Nino(ReadOnlySpan<char> text, int start)
    {
        Span<char> nino = stackalloc char[9];
        var count = 0;
        var position = start;
        while (count < 9 && position < text.Length && position - start < 13)
        {
            var c = text[position++];
            if (c == ' ' && count is 2 or 4 or 6 or 8)
                continue;
            nino[count++] = c;
        }
        if (count != 9 || (position < text.Length && char.IsAsciiLetterOrDigit(text[position])))
            return -1;
        var first = nino[0];
        var second = nino[1];
        if ("DFIQUV".Contains(first) || "DFIOQUV".Contains(second) || !char.IsAsciiLetterUpper(first) || !char.IsAsciiLetterUpper(second))
            return -1;
        if (nino[..2] is "BG" or "GB" or "KN" or "NK" or "NT" or "TN" or "ZZ")
            return -1;
        if (nino.Slice(2, 6).IndexOfAnyExceptInRange('0', '9') >= 0 || nino[8] is < 'A' or > 'D')
            return -1;
        return position;
    }
}
