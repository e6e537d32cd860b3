using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AgentBus.DataBoundaries;

namespace AgentBus.DataBoundariesBench;

/// <summary>One argument document: a positive (it holds <see cref="Class"/> at <see cref="Pointer"/>) or a negative (it holds nothing).</summary>
sealed record Sample(string? Class, string Form, string Kind, string Json, string Pointer);

/// <summary>
/// The corpus, deterministic for a seed (System.Random with a seed is stable across runs and
/// platforms). Positives: every class in four forms — plain (in a sentence), url (all
/// non-alphanumerics and a third of the rest percent-encoded, in a query string), base64 (of the
/// sentence, standard or url-safe) and split (cut at random places across 2–4 adjacent array items
/// or object members). Negatives: values that look like the positives but are not sensitive.
/// </summary>
sealed class CorpusGenerator(int seed)
{
    public static readonly string[] Forms = ["plain", "url", "base64", "split"];

    public static readonly string[] NegativeKinds =
    [
        "identifier", "uuid", "hex-hash", "git-sha", "order-number", "refund-id", "ticket-id", "iso-date", "timestamp", "price",
        "version", "file-path", "base64-binary", "sentence", "random-words", "url", "object-id", "numeric-id", "ip-address",
        "dates-and-times", "base64-digest-sri",
    ];

    const string Base62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const string Base32Upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const string HexLower = "0123456789abcdef";

    readonly Random _random = new(seed);

    public IEnumerable<Sample> Positives(int perClass)
    {
        foreach (var dataClass in DataClasses.All)
        {
            for (var i = 0; i < perClass; i++)
            {
                var (value, kind) = Positive(dataClass);
                // Split is not claimed for random-looking tokens and URLs with a password (docs/data-boundaries.md).
                var forms = dataClass is DataClasses.HighEntropy or DataClasses.PasswordInUrl ? Forms[..3] : Forms;
                var form = forms[i % forms.Length];
                yield return Wrap(dataClass, form, kind, value);
            }
        }
    }

    public IEnumerable<Sample> Negatives(int perKind)
    {
        foreach (var kind in NegativeKinds)
        {
            for (var i = 0; i < perKind; i++)
            {
                var value = Negative(kind);
                var json = JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["orderId"] = $"ORD-{_random.Next(1000, 99999)}",
                    ["value"] = value,
                    ["note"] = Sentence(6, 14),
                });
                yield return new Sample(null, "plain", kind, json, "/value");
            }
        }
    }

    /// <summary>Example values that providers and standards publish in their documentation (one URL constructed in a documented form); each must be found.</summary>
    public static IReadOnlyList<(string Class, string Source, string Value)> DocumentedExamples { get; } =
    [
        (DataClasses.AwsAccessKey, "AWS docs: example access key id", "AKIAIOSFODNN7EXAMPLE"),
        (DataClasses.HighEntropy, "AWS docs: example secret access key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        (DataClasses.ApiKey, "Stripe docs: example test secret key", "sk_test_4eC39HqLyjWDarjtT1zdp7dc"),
        (DataClasses.ApiKey, "Slack docs: example bot token", "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"),
        (DataClasses.Jwt, "jwt.io: example token", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"),
        (DataClasses.PasswordInUrl, "constructed in RFC 3986 3.2.1's deprecated user:password form", "ftp://anonymous:guest@ftp.example.com/pub"),
        (DataClasses.Card, "Stripe test card: Visa", "4242 4242 4242 4242"),
        (DataClasses.Card, "Braintree/PayPal test card: Visa", "4111111111111111"),
        (DataClasses.Card, "Stripe test card: Mastercard", "5555 5555 5555 4444"),
        (DataClasses.Card, "Stripe test card: Mastercard 2-series", "2223003122003222"),
        (DataClasses.Card, "Stripe test card: American Express", "3782 822463 10005"),
        (DataClasses.Card, "Stripe test card: Discover", "6011 1111 1111 1117"),
        (DataClasses.Card, "Stripe test card: Diners Club", "3056 9300 0902 0004"),
        (DataClasses.Card, "Stripe test card: JCB", "3566 0020 2036 0505"),
        (DataClasses.Card, "Stripe test card: UnionPay", "6200 0000 0000 0005"),
        (DataClasses.Iban, "IBAN registry example: Germany", "DE89 3704 0044 0532 0130 00"),
        (DataClasses.Iban, "IBAN registry example: United Kingdom", "GB29 NWBK 6016 1331 9268 19"),
        (DataClasses.Iban, "IBAN registry example: France", "FR14 2004 1010 0505 0001 3M02 606"),
        (DataClasses.Iban, "IBAN registry example: Netherlands", "NL91ABNA0417164300"),
        (DataClasses.Iban, "IBAN registry example: Switzerland", "CH9300762011623852957"),
        (DataClasses.Phone, "Ofcom drama number: London", "020 7946 0958"),
        (DataClasses.Phone, "Ofcom drama number: mobile", "07700 900123"),
        (DataClasses.Phone, "Twilio docs: E.164 example", "+14155552671"),
        (DataClasses.Phone, "NANP fictional 555-01XX", "(201) 555-0123"),
        (DataClasses.Email, "RFC 2606 example domain", "jane.doe@example.com"),
    ];

    /// <summary>Published examples that must NOT be found: formats documented as invalid on purpose.</summary>
    public static IReadOnlyList<(string Source, string Value)> DocumentedNonExamples { get; } =
    [
        ("HMRC: example NINO with the unused prefix QQ", "QQ 12 34 56 C"),
        ("SSA: the SSN invalidated after its use in advertising", "078-05-1120"),
        ("IBAN registry example (Germany) with one digit changed", "DE89 3704 0044 0532 0130 01"),
        ("Visa test number with its last digit changed (Luhn fails)", "4111 1111 1111 1112"),
    ];

    Sample Wrap(string dataClass, string form, string kind, string value)
    {
        var sentence = string.Format(CultureInfo.InvariantCulture, Pick(Templates), value);
        switch (form)
        {
            case "url":
                var encoded = $"https://app.example.com/search?q={PercentEncode(sentence)}&page={_random.Next(1, 9)}";
                return new Sample(dataClass, form, kind, Document("note", encoded), "/note");
            case "base64":
                var bytes = Encoding.UTF8.GetBytes(sentence);
                var text64 = _random.Next(2) == 0 ? Convert.ToBase64String(bytes) : Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
                return new Sample(dataClass, form, kind, Document("attachment", text64), "/attachment");
            case "split":
                return SplitSample(dataClass, kind, value);
            default:
                return new Sample(dataClass, form, kind, Document("note", sentence), "/note");
        }
    }

    static readonly string[] Templates =
    [
        "{0}", "Please use {0} for the next call.", "customer wrote: my details are {0} thanks", "Value: {0}",
        "config updated ({0}) by the on-call engineer", "{0} — from the ticket thread", "see below\n{0}\nregards",
    ];

    string Document(string field, string value) => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["orderId"] = $"ORD-{_random.Next(1000, 99999)}",
        ["amountUsd"] = Math.Round(_random.NextDouble() * 500, 2),
        [field] = value,
        ["reason"] = Sentence(4, 10),
    });

    /// <summary>The value cut at 1–3 random places (each part at most 64 characters), as array items or as adjacent members.</summary>
    Sample SplitSample(string dataClass, string kind, string value)
    {
        var parts = new List<string>();
        if (value.Contains('\n'))
        {
            // Long values (PEM blocks) are sent line by line, as a model splitting them would.
            parts.AddRange(value.Split('\n'));
        }
        else
        {
            var cuts = Enumerable.Range(0, _random.Next(1, 4)).Select(_ => _random.Next(1, value.Length)).Distinct().Order().ToList();
            var at = 0;
            foreach (var cut in cuts)
            {
                parts.Add(value[at..cut]);
                at = cut;
            }
            parts.Add(value[at..]);
            while (parts.Any(p => p.Length > 60))
            {
                var longest = parts.FindIndex(p => p.Length > 60);
                var part = parts[longest];
                parts[longest] = part[..(part.Length / 2)];
                parts.Insert(longest + 1, part[(part.Length / 2)..]);
            }
        }
        if (_random.Next(2) == 0)
        {
            var json = JsonSerializer.Serialize(new Dictionary<string, object> { ["orderId"] = $"ORD-{_random.Next(1000, 99999)}", ["parts"] = parts });
            return new Sample(dataClass, "split", kind, json, "/parts");
        }
        var members = new Dictionary<string, object> { ["orderId"] = $"ORD-{_random.Next(1000, 99999)}" };
        var fields = new Dictionary<string, object>();
        for (var i = 0; i < parts.Count; i++)
            fields[$"part{i + 1}"] = parts[i];
        members["value"] = fields;
        return new Sample(dataClass, "split", kind, JsonSerializer.Serialize(members), "/value");
    }

    string PercentEncode(string text)
    {
        var builder = new StringBuilder();
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            if (char.IsAsciiLetterOrDigit((char)b) && _random.Next(3) != 0)
                builder.Append((char)b);
            else
                builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
        }
        return builder.ToString();
    }

    (string Value, string Kind) Positive(string dataClass) => dataClass switch
    {
        DataClasses.AwsAccessKey => (Pick(["AKIA", "ASIA"]) + Chars(Base32Upper, 16), "aws"),
        DataClasses.ApiKey => ApiKey(),
        DataClasses.Jwt => (Jwt(), "jwt"),
        DataClasses.PrivateKey => PrivateKey(),
        DataClasses.PasswordInUrl => (PasswordUrl(), "url"),
        DataClasses.HighEntropy => HighEntropy(),
        DataClasses.Email => (Email(), "email"),
        DataClasses.Phone => Phone(),
        DataClasses.Card => Card(),
        DataClasses.Iban => Iban(),
        DataClasses.UsSsn => (Ssn(), "ssn"),
        DataClasses.UkNino => (Nino(), "nino"),
        _ => throw new ArgumentOutOfRangeException(nameof(dataClass)),
    };

    (string, string) ApiKey()
    {
        switch (_random.Next(14))
        {
            case 0: return (Pick(["ghp_", "gho_", "ghs_", "ghu_", "ghr_"]) + Chars(Base62, 36), "github");
            case 1: return ("github_pat_" + Chars(Base62, 22) + "_" + Chars(Base62, 59), "github-fine-grained");
            case 2: return ("glpat-" + Chars(Base62 + "-_", 20), "gitlab");
            case 3: return (Pick(["sk_live_", "rk_live_", "sk_test_", "rk_test_"]) + Chars(Base62, Pick([24, 34, 99])), "stripe");
            case 4: return ($"{Pick(["xoxb", "xoxp"])}-{Digits(11)}-{Digits(12)}-{Chars(Base62, 24)}", "slack");
            case 5: return ("sk-proj-" + Chars(Base62 + "-_", 120), "openai-project");
            case 6: return ("sk-" + Chars(Base62, 20) + "T3BlbkFJ" + Chars(Base62, 20), "openai-legacy");
            case 7: return ("AIza" + Chars(Base62 + "-_", 35), "google");
            case 8: return ("SG." + Chars(Base62 + "-_", 22) + "." + Chars(Base62 + "-_", 43), "sendgrid");
            case 9: return ("npm_" + Chars(Base62, 36), "npm");
            case 10: return ("hf_" + Chars(Base62[..52], 34), "huggingface");
            case 11: return ("dop_v1_" + Chars(HexLower, 64), "digitalocean");
            case 12: return ("shpat_" + Chars(HexLower, 32), "shopify");
            default: return ($"https://hooks.slack.com/services/T{Chars(Base32Upper, 8)}/B{Chars(Base32Upper, 10)}/{Chars(Base62, 24)}", "slack-webhook");
        }
    }

    string Jwt()
    {
        var alg = Pick(["HS256", "RS256", "ES256", "PS384"]);
        var header = _random.Next(2) == 0 ? $$"""{"alg":"{{alg}}","typ":"JWT"}""" : $$"""{"typ":"JWT","alg":"{{alg}}","kid":"{{Chars(Base62, 12)}}"}""";
        var payload = $$"""{"sub":"{{_random.Next(1, 1_000_000)}}","name":"{{Name()}}","iat":{{1_700_000_000 + _random.Next(50_000_000)}},"scope":"{{Pick(Words.Code)}}"}""";
        return $"{Base64Url(Encoding.UTF8.GetBytes(header))}.{Base64Url(Encoding.UTF8.GetBytes(payload))}.{Base64Url(Bytes(alg.StartsWith('H') ? 32 : 64))}";
    }

    (string, string) PrivateKey()
    {
        var label = Pick(["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "ENCRYPTED PRIVATE KEY"]);
        var body = Convert.ToBase64String(Bytes(_random.Next(120, 600)));
        var lines = Enumerable.Range(0, (body.Length + 63) / 64).Select(i => body.Substring(i * 64, Math.Min(64, body.Length - (i * 64))));
        return ($"-----BEGIN {label}-----\n{string.Join('\n', lines)}\n-----END {label}-----", label);
    }

    string PasswordUrl()
    {
        var scheme = Pick(["postgres", "postgresql", "mysql", "https", "redis", "amqp", "mongodb+srv", "ftp", "smtp"]);
        var password = _random.Next(3) switch
        {
            0 => Chars(Base62, _random.Next(8, 24)),
            1 => Pick(Words.English) + _random.Next(10, 9999).ToString(CultureInfo.InvariantCulture) + Pick(["!", "%21", "", "#".Replace("#", "%23")]),
            _ => Chars(Base62 + "-._~", _random.Next(10, 30)),
        };
        var host = Pick(["db.internal", "10.0.3.14", "cache.example.com", "broker.example.net:5672", "localhost:5432"]);
        return $"{scheme}://{Pick(Words.FirstNames)}{Pick(["", "_svc", ".app"])}:{password}@{host}/{Pick(Words.Code)}";
    }

    (string, string) HighEntropy() => _random.Next(4) switch
    {
        0 => (Chars(Base62, _random.Next(20, 65)), "base62"),
        1 => (Convert.ToBase64String(Bytes(_random.Next(18, 49))), "base64-random-bytes"),
        2 => (Base64Url(Bytes(_random.Next(18, 49))), "base64url-random-bytes"),
        _ => (Chars(Base62 + "/+", 40), "aws-secret-key-shape"),
    };

    string Email()
    {
        var local = _random.Next(4) switch
        {
            0 => $"{Pick(Words.FirstNames)}.{Pick(Words.LastNames)}",
            1 => $"{Pick(Words.FirstNames)}{_random.Next(1, 999)}",
            2 => $"{Pick(Words.FirstNames)}+{Pick(Words.Code)}",
            _ => $"{Pick(Words.FirstNames)[0]}{Pick(Words.LastNames)}_{Pick(Words.Code)}",
        };
        return $"{local}@{Pick(Words.Domains)}";
    }

    (string, string) Phone()
    {
        switch (_random.Next(6))
        {
            case 0: return ($"+1{Nxx()}{Nxx()}{Digits(4)}", "e164-compact");
            case 1: return ($"+{Pick(["44", "49", "33", "34", "39", "31", "91", "81", "61", "55"])} {Digits(_random.Next(2, 4))} {Digits(3)} {Digits(4)}", "e164-grouped");
            case 2:
                var format = Pick(["({0}) {1}-{2}", "{0}-{1}-{2}", "{0}.{1}.{2}", "{0} {1} {2}", "1-{0}-{1}-{2}", "+1 ({0}) {1}-{2}"]);
                return (string.Format(CultureInfo.InvariantCulture, format, Nxx(), Nxx(), Digits(4)), "nanp");
            case 3: return (Pick([$"020 {Digits(4)} {Digits(4)}", $"07{Digits(3)} {Digits(6)}", $"01{Digits(3)} {Digits(6)}", $"0161 {Digits(3)} {Digits(4)}"]), "uk");
            case 4: return ($"0{_random.Next(1, 10)} {Digits(2)} {Digits(2)} {Digits(2)} {Digits(2)}", "fr");
            default: return ($"+{Pick(["44", "49", "33"])}-{Digits(3)}-{Digits(3)}-{Digits(4)}", "e164-hyphens");
        }
    }

    string Nxx() => $"{_random.Next(2, 10)}{Digits(2)}";

    (string, string) Card()
    {
        var (prefix, length, brand) = _random.Next(7) switch
        {
            0 => ("4", Pick([16, 16, 13, 19]), "visa"),
            1 => (_random.Next(51, 56).ToString(CultureInfo.InvariantCulture), 16, "mastercard"),
            2 => (_random.Next(2221, 2721).ToString(CultureInfo.InvariantCulture), 16, "mastercard-2"),
            3 => (Pick(["34", "37"]), 15, "amex"),
            4 => (Pick(["6011", "65", "644"]), 16, "discover"),
            5 => (_random.Next(3528, 3590).ToString(CultureInfo.InvariantCulture), 16, "jcb"),
            _ => ("62", Pick([16, 19]), "unionpay"),
        };
        var digits = prefix + Digits(length - prefix.Length - 1);
        digits += LuhnDigit(digits);
        var grouping = _random.Next(3);
        if (grouping == 0)
            return (digits, brand);
        var separator = grouping == 1 ? " " : "-";
        if (length == 15)
            return ($"{digits[..4]}{separator}{digits[4..10]}{separator}{digits[10..]}", brand);
        var groups = Enumerable.Range(0, (length + 3) / 4).Select(i => digits.Substring(i * 4, Math.Min(4, length - (i * 4))));
        return (string.Join(separator, groups), brand);
    }

    public static char LuhnDigit(string digitsWithoutCheck)
    {
        var sum = 0;
        var doubled = true;
        for (var i = digitsWithoutCheck.Length - 1; i >= 0; i--)
        {
            var d = digitsWithoutCheck[i] - '0';
            if (doubled)
            {
                d *= 2;
                if (d > 9)
                    d -= 9;
            }
            sum += d;
            doubled = !doubled;
        }
        return (char)('0' + ((10 - (sum % 10)) % 10));
    }

    static readonly (string Country, int Length, bool Letters)[] IbanCountries =
        [("DE", 22, false), ("GB", 22, true), ("FR", 27, true), ("NL", 18, true), ("ES", 24, false), ("IT", 27, true), ("CH", 21, false), ("BE", 16, false), ("PL", 28, false), ("SE", 24, false)];

    (string, string) Iban()
    {
        var (country, length, letters) = Pick(IbanCountries);
        var bban = letters ? Chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 4) + Digits(length - 8) : Digits(length - 4);
        var check = 98 - Mod97(bban + country + "00");
        var iban = $"{country}{check:D2}{bban}";
        if (_random.Next(2) == 0)
            return (iban, country);
        return (string.Join(' ', Enumerable.Range(0, (iban.Length + 3) / 4).Select(i => iban.Substring(i * 4, Math.Min(4, iban.Length - (i * 4))))), country);
    }

    static int Mod97(string text)
    {
        var remainder = 0;
        foreach (var c in text)
            remainder = char.IsAsciiDigit(c) ? ((remainder * 10) + (c - '0')) % 97 : ((remainder * 100) + (c - 'A' + 10)) % 97;
        return remainder;
    }

    string Ssn()
    {
        int area;
        do
            area = _random.Next(1, 900);
        while (area == 666);
        var separator = _random.Next(4) == 0 ? ' ' : '-';
        return $"{area:D3}{separator}{_random.Next(1, 100):D2}{separator}{_random.Next(1, 10000):D4}";
    }

    string Nino()
    {
        const string First = "ABCEGHJKLMNOPRSTWXYZ";
        const string Second = "ABCEGHJKLMNPRSTWXYZ";
        string prefix;
        do
            prefix = $"{Pick(First.ToCharArray())}{Pick(Second.ToCharArray())}";
        while (prefix is "BG" or "GB" or "KN" or "NK" or "NT" or "TN" or "ZZ");
        var digits = Digits(6);
        var suffix = Pick("ABCD".ToCharArray());
        return _random.Next(2) == 0 ? $"{prefix}{digits}{suffix}" : $"{prefix} {digits[..2]} {digits[2..4]} {digits[4..]} {suffix}";
    }

    // ---------- negatives ----------

    object Negative(string kind) => kind switch
    {
        "identifier" => Identifier(),
        "uuid" => _random.Next(3) switch
        {
            0 => Guid(_random).ToString("D"),
            1 => Guid(_random).ToString("D").ToUpperInvariant(),
            _ => Guid(_random).ToString("N"),
        },
        "hex-hash" => Chars(_random.Next(2) == 0 ? HexLower : HexLower.ToUpperInvariant(), Pick([32, 40, 64, 128])),
        "git-sha" => Pick([Chars(HexLower, 40), Chars(HexLower, 7), Chars(HexLower, 12), $"{Pick(["commit", "merge", "fix"])} {Chars(HexLower, 7)}"]),
        "order-number" => Pick([$"ORD-{_random.Next(1000, 99999)}", $"ORD-2026-{_random.Next(0, 999999):D6}", $"PO#{_random.Next(10000, 99999)}", $"2026-{_random.Next(0, 999999):D6}", $"SO{Digits(10)}", $"order {Digits(3)}-{Digits(7)}-{Digits(7)}"]),
        "refund-id" => Pick([$"RF-{_random.Next(1, 999999):D6}", $"REF-{Digits(4)}-{Chars("ABCDEFGHJKLMNPQRSTUVWXYZ", 4)}", $"rfnd_{Digits(8)}"]),
        "ticket-id" => Pick([$"JIRA-{_random.Next(1, 99999)}", $"INC{Digits(7)}", $"TKT-{Chars("0123456789ABCDEF", 6)}", $"#{_random.Next(1, 999999)}", $"CASE-{Digits(4)}-{Digits(5)}"]),
        "iso-date" => new DateTime(2020, 1, 1).AddDays(_random.Next(0, 3000)).ToString(Pick(["yyyy-MM-dd", "yyyy-MM-ddTHH:mm:ssZ", "yyyy-MM-ddTHH:mm:ss.fffzzz", "yyyyMMdd"]), CultureInfo.InvariantCulture),
        "timestamp" => _random.Next(3) switch
        {
            0 => (object)(1_600_000_000L + _random.Next(200_000_000)),
            1 => (1_600_000_000_000L + ((long)_random.Next(200_000_000) * 1000) + _random.Next(1000)).ToString(CultureInfo.InvariantCulture),
            _ => $"{_random.Next(0, 24):D2}:{_random.Next(0, 60):D2}:{_random.Next(0, 60):D2}.{Digits(6)}",
        },
        "price" => Pick<object>([$"${_random.Next(1, 99999):N0}.{_random.Next(0, 100):D2}", $"{_random.Next(1, 9999)}.{_random.Next(0, 100):D2} USD", $"€{_random.Next(1, 999)},{_random.Next(0, 100):D2}", Math.Round(_random.NextDouble() * 10000, 2), $"£{_random.Next(1, 99999):N2}"]),
        "version" => Pick([$"{_random.Next(0, 20)}.{_random.Next(0, 20)}.{_random.Next(0, 500)}", $"v{_random.Next(1, 12)}.{_random.Next(0, 9)}.{_random.Next(100, 999)}", $"{_random.Next(1, 5)}.{_random.Next(0, 9)}.0-preview.{_random.Next(1, 9)}+build.{Digits(8)}", $"10.0.{_random.Next(100, 500)}-rc.{_random.Next(1, 3)}.{Digits(5)}.{Digits(3)}"]),
        "file-path" => Pick([$"/var/lib/agentbus/{Pick(Words.Code)}/{Pick(Words.Code)}-{Digits(4)}.log", $"src/AgentBus.{Pascal(2)}/{Pascal(3)}.cs", $"C:\\Users\\{Pick(Words.FirstNames)}\\AppData\\Local\\{Pascal(2)}\\{Pick(Words.Code)}.json", $"./node_modules/@types/{Pick(Words.Code)}/index.d.ts", $"s3://{Pick(Words.Code)}-bucket/{new DateTime(2025, 1, 1).AddDays(_random.Next(700)):yyyy/MM/dd}/{Chars(HexLower, 16)}.parquet"]),
        "base64-binary" => BinaryFile(),
        "sentence" => Sentence(8, 30),
        "random-words" => string.Join(Pick([" ", "-", "_", ""]), Enumerable.Range(0, _random.Next(3, 8)).Select(_ => Pick(Words.English))),
        "url" => Pick([$"https://shop.example.com/orders/ORD-{_random.Next(1000, 99999)}?tab=refunds&page={_random.Next(1, 20)}", $"https://api.example.com/v1/customers/{Guid(_random)}/invoices", $"https://cdn.example.net/assets/{Chars(HexLower, 20)}/logo@2x.png", $"git@github.com:{Pick(Words.Code)}/{Pick(Words.Code)}.git", $"https://{Pick(Words.FirstNames)}@example.com/repo.git", $"postgres://{Pick(Words.FirstNames)}@db.internal:5432/app", $"https://docs.example.com/search?q={Uri.EscapeDataString(Sentence(3, 6))}", $"redis://:${{REDIS_PASSWORD}}@cache.internal:6379"]),
        "object-id" => Pick([$"{Pick(["ch", "pi", "cus", "re", "in", "sub", "evt", "txn", "pm"])}_{Chars(Base62, _random.Next(14, 25))}", Ulid(), $"{Pick(["ch", "pi", "re"])}_{Digits(1)}{Chars(Base62, 23)}"]),
        "numeric-id" => Pick<object>([long.Parse("1" + Digits(18), CultureInfo.InvariantCulture), "9" + Digits(15), Digits(12), $"1Z{Chars("0123456789ABCDEFGHJKLMNPRSTUVWXYZ", 6)}{Digits(10)}", "1" + Digits(15)]),
        "ip-address" => Pick([$"{_random.Next(1, 255)}.{_random.Next(0, 255)}.{_random.Next(0, 255)}.{_random.Next(1, 255)}", $"10.{_random.Next(0, 255)}.{_random.Next(0, 255)}.{_random.Next(1, 255)}:{_random.Next(1024, 65535)}", $"fe80::{Chars(HexLower, 4)}:{Chars(HexLower, 4)}:{Chars(HexLower, 4)}", string.Join(':', Enumerable.Range(0, 6).Select(_ => Chars("0123456789ABCDEF", 2)))]),
        "dates-and-times" => Pick([$"{_random.Next(1, 13):D2}/{_random.Next(1, 29):D2}/{_random.Next(2000, 2030)}", $"{_random.Next(1, 29):D2}.{_random.Next(1, 13):D2}.{_random.Next(2000, 2030)}", $"{_random.Next(2000, 2030)} {_random.Next(1, 13):D2} {_random.Next(1, 29):D2}", $"between {_random.Next(2000, 2030)}-{_random.Next(1, 13):D2}-{_random.Next(1, 29):D2} and {_random.Next(2000, 2030)}-{_random.Next(1, 13):D2}-{_random.Next(1, 29):D2}", $"week {_random.Next(1, 53)} of {_random.Next(2000, 2030)}, {_random.Next(1, 24)}:{_random.Next(0, 60):D2}-{_random.Next(1, 24)}:{_random.Next(0, 60):D2}"]),
        "base64-digest-sri" => $"{Pick(["sha256", "sha384", "sha512"])}-{Convert.ToBase64String(Bytes(Pick([32, 48, 64])))}",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    string Identifier()
    {
        var words = Enumerable.Range(0, _random.Next(2, 6)).Select(_ => Pick(Words.Code)).ToList();
        if (_random.Next(4) == 0)
            words.Insert(_random.Next(words.Count), Pick(["v2", "2", "utf8", "sha256", "http2", "x64", "int32", "base64", "v1beta1", "3d", "oauth2", "s3", "ec2"]));
        string Cap(string w) => char.ToUpperInvariant(w[0]) + w[1..];
        return _random.Next(7) switch
        {
            0 => words[0] + string.Concat(words.Skip(1).Select(Cap)),
            1 => string.Concat(words.Select(Cap)),
            2 => string.Join('_', words),
            3 => string.Join('_', words).ToUpperInvariant(),
            4 => string.Join('-', words),
            5 => "AgentBus." + string.Join('.', words.Select(Cap)),
            _ => $"{Pick(Words.Code)}.{words[0]}{string.Concat(words.Skip(1).Select(Cap))}({Pick(Words.Code)})",
        };
    }

    string Pascal(int count) => string.Concat(Enumerable.Range(0, count).Select(_ => Pick(Words.Code)).Select(w => char.ToUpperInvariant(w[0]) + w[1..]));

    string BinaryFile()
    {
        byte[][] magics = [[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], [0xFF, 0xD8, 0xFF, 0xE0], [0x1F, 0x8B, 0x08, 0x00], "%PDF-1.7\n"u8.ToArray(), [0x50, 0x4B, 0x03, 0x04], "GIF89a"u8.ToArray()];
        var magic = Pick(magics);
        var data = Bytes(_random.Next(200, 3000));
        magic.CopyTo(data, 0);
        return Convert.ToBase64String(data);
    }

    string Ulid() => $"0{Chars("0123456789ABCDEFGHJKMNPQRSTVWXYZ", 25)}";

    static Guid Guid(Random random)
    {
        Span<byte> bytes = stackalloc byte[16];
        random.NextBytes(bytes);
        bytes[7] = (byte)((bytes[7] & 0x0F) | 0x40);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes);
    }

    // ---------- helpers ----------

    public string Sentence(int min, int max) => string.Join(' ', Enumerable.Range(0, _random.Next(min, max)).Select(_ => Pick(Words.English))) + Pick([".", "", "?", "!"]);

    string Name() => $"{Pick(Words.FirstNames)} {Pick(Words.LastNames)}";

    T Pick<T>(IReadOnlyList<T> items) => items[_random.Next(items.Count)];

    string Chars(string alphabet, int count) => string.Create(count, (alphabet, _random), static (span, state) =>
    {
        for (var i = 0; i < span.Length; i++)
            span[i] = state.alphabet[state._random.Next(state.alphabet.Length)];
    });

    string Digits(int count) => Chars("0123456789", count);

    byte[] Bytes(int count)
    {
        var bytes = new byte[count];
        _random.NextBytes(bytes);
        return bytes;
    }

    static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>A digest only to name a corpus in the report (not a secret).</summary>
    public static string Fingerprint(IEnumerable<Sample> samples)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var sample in samples)
            hash.AppendData(Encoding.UTF8.GetBytes(sample.Json));
        return Convert.ToHexString(hash.GetHashAndReset())[..12].ToLowerInvariant();
    }
}
