using System.Collections.Frozen;

namespace AgentBus.DataBoundaries;

/// <summary>The check-digit rules and issuer tables behind pii.card and pii.iban.</summary>
static class Checksums
{
    public static bool Luhn(ReadOnlySpan<char> digits)
    {
        var sum = 0;
        var doubled = false;
        for (var i = digits.Length - 1; i >= 0; i--)
        {
            var d = digits[i] - '0';
            if (doubled)
            {
                d *= 2;
                if (d > 9)
                    d -= 9;
            }
            sum += d;
            doubled = !doubled;
        }
        return sum % 10 == 0;
    }

    /// <summary>
    /// Issuer ranges (IIN prefixes) with their lengths: Visa 4 (13, 16, 19); Mastercard 51–55 and 2221–2720 (16);
    /// American Express 34, 37 (15); Discover 6011, 644–649, 65 (16–19); JCB 3528–3589 (16–19); Diners Club 300–305,
    /// 36, 38, 39 (14–19); UnionPay 62 (16–19); Maestro 5018, 5020, 5038, 5893, 6304, 6759, 6761–6763 (13–19).
    /// </summary>
    public static bool IssuerAccepts(ReadOnlySpan<char> digits)
    {
        var length = digits.Length;
        var two = Prefix(digits, 2);
        var three = Prefix(digits, 3);
        var four = Prefix(digits, 4);
        if (digits[0] == '4')
            return length is 13 or 16 or 19;
        if (two is >= 51 and <= 55 || four is >= 2221 and <= 2720)
            return length == 16;
        if (two is 34 or 37)
            return length == 15;
        if (four == 6011 || three is >= 644 and <= 649 || two == 65)
            return length is >= 16 and <= 19;
        if (four is >= 3528 and <= 3589)
            return length is >= 16 and <= 19;
        if (three is >= 300 and <= 305 || two is 36 or 38 or 39)
            return length is >= 14 and <= 19;
        if (two == 62)
            return length is >= 16 and <= 19;
        if (four is 5018 or 5020 or 5038 or 5893 or 6304 or 6759 or 6761 or 6762 or 6763)
            return length is >= 13 and <= 19;
        return false;
    }

    static int Prefix(ReadOnlySpan<char> digits, int count)
    {
        var value = 0;
        for (var i = 0; i < count; i++)
            value = (value * 10) + (digits[i] - '0');
        return value;
    }

    /// <summary>IBAN lengths by country (SWIFT IBAN registry).</summary>
    static readonly FrozenDictionary<string, int> IbanLengths = new Dictionary<string, int>
    {
        ["AD"] = 24, ["AE"] = 23, ["AL"] = 28, ["AT"] = 20, ["AZ"] = 28, ["BA"] = 20, ["BE"] = 16, ["BG"] = 22, ["BH"] = 22,
        ["BI"] = 27, ["BR"] = 29, ["BY"] = 28, ["CH"] = 21, ["CR"] = 22, ["CY"] = 28, ["CZ"] = 24, ["DE"] = 22, ["DJ"] = 27,
        ["DK"] = 18, ["DO"] = 28, ["EE"] = 20, ["EG"] = 29, ["ES"] = 24, ["FI"] = 18, ["FK"] = 18, ["FO"] = 18, ["FR"] = 27,
        ["GB"] = 22, ["GE"] = 22, ["GI"] = 23, ["GL"] = 18, ["GR"] = 27, ["GT"] = 28, ["HR"] = 21, ["HU"] = 28, ["IE"] = 22,
        ["IL"] = 23, ["IQ"] = 23, ["IS"] = 26, ["IT"] = 27, ["JO"] = 30, ["KW"] = 30, ["KZ"] = 20, ["LB"] = 28, ["LC"] = 32,
        ["LI"] = 21, ["LT"] = 20, ["LU"] = 20, ["LV"] = 21, ["LY"] = 25, ["MC"] = 27, ["MD"] = 24, ["ME"] = 22, ["MK"] = 19,
        ["MN"] = 20, ["MR"] = 27, ["MT"] = 31, ["MU"] = 30, ["NI"] = 28, ["NL"] = 18, ["NO"] = 15, ["OM"] = 23, ["PK"] = 24,
        ["PL"] = 28, ["PS"] = 29, ["PT"] = 25, ["QA"] = 29, ["RO"] = 24, ["RS"] = 22, ["RU"] = 33, ["SA"] = 24, ["SC"] = 31,
        ["SD"] = 18, ["SE"] = 24, ["SI"] = 19, ["SK"] = 24, ["SM"] = 27, ["SO"] = 23, ["ST"] = 25, ["SV"] = 28, ["TL"] = 23,
        ["TN"] = 24, ["TR"] = 26, ["UA"] = 29, ["VA"] = 22, ["VG"] = 24, ["XK"] = 20, ["YE"] = 30,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    static readonly FrozenDictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> IbanLengthLookup =
        IbanLengths.GetAlternateLookup<ReadOnlySpan<char>>();

    public static IReadOnlyCollection<string> IbanCountries => IbanLengths.Keys;

    public static bool IbanLength(ReadOnlySpan<char> country, out int length) => IbanLengthLookup.TryGetValue(country, out length);

    /// <summary>Check digits 02–98 and the ISO 7064 mod 97-10 remainder of the rearranged number is 1.</summary>
    public static bool IbanValid(ReadOnlySpan<char> iban)
    {
        if (!char.IsAsciiDigit(iban[2]) || !char.IsAsciiDigit(iban[3]))
            return false;
        var check = ((iban[2] - '0') * 10) + (iban[3] - '0');
        if (check is < 2 or > 98)
            return false;
        return Mod97(iban) == 1;
    }

    public static int Mod97(ReadOnlySpan<char> iban)
    {
        var remainder = 0;
        for (var i = 0; i < iban.Length; i++)
        {
            var c = iban[(i + 4) % iban.Length];
            if (char.IsAsciiDigit(c))
                remainder = ((remainder * 10) + (c - '0')) % 97;
            else
                remainder = ((remainder * 100) + (char.ToUpperInvariant(c) - 'A' + 10)) % 97;
        }
        return remainder;
    }
}
