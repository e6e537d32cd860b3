using System.Buffers.Text;
using System.Globalization;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using AgentBus.Contracts;

namespace AgentBus.Hostile;

/// <summary>
/// Secrets and personal data sent to the granted tool, which accepts none: every one must be denied
/// data_boundary before it reaches an executor, and none may be stored in the audit as sent. The samples
/// are providers' documented examples or generated in the exact formats docs/data-boundaries.md lists
/// (checksums included), so a miss is the pipeline's, not a malformed sample's.
/// </summary>
sealed partial class HostileGenerator
{
    /// <summary>The member of the noop tool's arguments that takes any JSON: objects, arrays and names to hide data in.</summary>
    public const string DataArgument = "data";

    const string Upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const string Lower = "abcdefghijklmnopqrstuvwxyz";
    const string Digits = "0123456789";
    const string Alphanumeric = Upper + Lower + Digits;
    const string Base64Chars = Alphanumeric + "+/";

    sealed record Sample(string Kind, string Value, bool Splittable = true);

    static string Pick(Random r, string alphabet, int length)
    {
        var chars = new char[length];
        for (var i = 0; i < length; i++)
            chars[i] = alphabet[r.Next(alphabet.Length)];
        return new string(chars);
    }

    /// <summary>Random alphanumerics with at least one digit and one letter, which some key formats require.</summary>
    static string Token(Random r, int length)
    {
        var token = Pick(r, Alphanumeric, length).ToCharArray();
        token[r.Next(length)] = Digits[r.Next(10)];
        var letter = r.Next(length);
        while (char.IsDigit(token[letter]))
            letter = (letter + 1) % length;
        return new string(token);
    }

    static int LuhnDigit(string payload)
    {
        var sum = 0;
        for (var i = 0; i < payload.Length; i++)
        {
            var digit = payload[payload.Length - 1 - i] - '0';
            if (i % 2 == 0)
            {
                digit *= 2;
                if (digit > 9)
                    digit -= 9;
            }
            sum += digit;
        }
        return (10 - sum % 10) % 10;
    }

    static readonly (string Issuer, Func<Random, string> Prefix, int Length)[] CardIssuers =
    [
        ("Visa", _ => "4", 16), ("Visa", _ => "4", 13), ("Mastercard", r => (51 + r.Next(5)).ToString(CultureInfo.InvariantCulture), 16),
        ("Mastercard", r => (2221 + r.Next(500)).ToString(CultureInfo.InvariantCulture), 16), ("Amex", r => r.Next(2) == 0 ? "34" : "37", 15),
        ("Discover", _ => "6011", 16), ("JCB", r => (3528 + r.Next(62)).ToString(CultureInfo.InvariantCulture), 16),
        ("Diners", r => "30" + r.Next(6).ToString(CultureInfo.InvariantCulture), 14), ("UnionPay", _ => "62", 16),
    ];

    static string Card(Random r, out string issuer, out string compact)
    {
        var (name, prefix, length) = CardIssuers[r.Next(CardIssuers.Length)];
        issuer = name;
        var payload = prefix(r);
        while (payload.Length < length - 1)
            payload += Digits[r.Next(10)];
        compact = payload + LuhnDigit(payload).ToString(CultureInfo.InvariantCulture);
        int[] groups = length switch { 15 => [4, 6, 5], 14 => [4, 6, 4], 13 => [4, 4, 5], _ => [4, 4, 4, 4] };
        var separator = r.Next(3) switch { 0 => "", 1 => " ", _ => "-" };
        if (separator.Length == 0)
            return compact;
        var parts = new List<string>();
        var at = 0;
        foreach (var g in groups)
        {
            parts.Add(compact.Substring(at, g));
            at += g;
        }
        return string.Join(separator, parts);
    }

    static string Iban(Random r)
    {
        (string Country, Func<Random, string> Bban)[] formats =
        [
            ("DE", x => Pick(x, Digits, 18)), ("GB", x => Pick(x, Upper, 4) + Pick(x, Digits, 14)), ("NL", x => Pick(x, Upper, 4) + Pick(x, Digits, 10)),
            ("FR", x => Pick(x, Digits, 10) + Pick(x, Upper + Digits, 11) + Pick(x, Digits, 2)), ("ES", x => Pick(x, Digits, 20)),
        ];
        var (country, bbanOf) = formats[r.Next(formats.Length)];
        var bban = bbanOf(r);
        var numeric = new StringBuilder();
        foreach (var ch in bban + country + "00")
            numeric.Append(char.IsLetter(ch) ? (ch - 'A' + 10).ToString(CultureInfo.InvariantCulture) : ch.ToString());
        var check = 98 - (int)(BigInteger.Parse(numeric.ToString(), CultureInfo.InvariantCulture) % 97);
        var iban = $"{country}{check:D2}{bban}";
        return r.Next(2) == 0 ? iban : string.Join(' ', iban.Chunk(4).Select(c => new string(c)));
    }

    static string Ssn(Random r)
    {
        int area;
        do
            area = r.Next(1, 900);
        while (area == 666);
        string ssn;
        do
            ssn = $"{area:D3}-{r.Next(1, 100):D2}-{r.Next(1, 10_000):D4}";
        while (ssn is "078-05-1120" or "219-09-9999");
        return r.Next(3) == 0 ? ssn.Replace('-', ' ') : ssn;
    }

    static string Nino(Random r)
    {
        string prefix;
        do
            prefix = $"{"ABCEGHJKLMNOPRSTWXYZ"[r.Next(20)]}{"ABCEGHJKLMNPRSTWXYZ"[r.Next(19)]}";
        while (prefix is "BG" or "GB" or "KN" or "NK" or "NT" or "TN" or "ZZ");
        var digits = Pick(r, Digits, 6);
        var suffix = "ABCD"[r.Next(4)];
        return r.Next(2) == 0 ? $"{prefix}{digits}{suffix}" : $"{prefix} {digits[..2]} {digits[2..4]} {digits[4..]} {suffix}";
    }

    static string Phone(Random r)
    {
        string Nanp() => $"{r.Next(2, 10)}{r.Next(10)}{r.Next(10)}";
        var line = Pick(r, Digits, 4);
        return r.Next(7) switch
        {
            0 => $"+1 ({Nanp()}) {Nanp()}-{line}",
            1 => $"+1{Nanp()}{Nanp()}{line}",
            2 => $"({Nanp()}) {Nanp()}-{line}",
            3 => $"{Nanp()}-{Nanp()}-{line}",
            4 => $"+44 20 7946 {Pick(r, Digits, 4)}",
            5 => $"07700 900{Pick(r, Digits, 3)}",
            _ => $"+49 30 {Pick(r, Digits, 4)} {Pick(r, Digits, 4)}",
        };
    }

    static readonly string[] GivenNames = ["jane", "john", "maria", "li.wei", "olu", "sanna", "priya", "tomas"];
    static readonly string[] FamilyNames = ["doe", "smith", "garcia", "nakamura", "okafor", "virtanen", "patel", "novak"];
    static readonly string[] MailDomains = ["example.com", "example.org", "mail.example.co.uk", "corp.example.net"];

    static string Jwt(Random r)
    {
        static string Segment(string json) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json));
        var header = Segment(r.Next(2) == 0 ? """{"alg":"HS256","typ":"JWT"}""" : """{"alg":"RS256","kid":"k1"}""");
        var claims = Segment($$"""{"sub":"{{r.Next(1_000_000)}}","name":"{{GivenNames[r.Next(GivenNames.Length)]}}","iat":{{1_700_000_000 + r.Next(50_000_000)}}}""");
        return $"{header}.{claims}.{Pick(r, Alphanumeric + "-_", 43)}";
    }

    static readonly string[] PemLabels = ["RSA PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "PGP PRIVATE KEY BLOCK", "DSA PRIVATE KEY"];

    static string Pem(Random r, out string label)
    {
        label = PemLabels[r.Next(PemLabels.Length)];
        return $"-----BEGIN {label}-----\n{Pick(r, Base64Chars, 64)}\n{Pick(r, Base64Chars, 24)}==\n-----END {label}-----";
    }

    /// <summary>One sensitive value; "Splittable" is false for the classes the classifier does not claim in split values.</summary>
    static Sample Sensitive(Random r)
    {
        switch (r.Next(17))
        {
            case 0 or 1:
            {
                var card = Card(r, out var issuer, out _);
                return new($"card ({issuer})", card);
            }
            case 2:
                return new("AWS access key", r.Next(2) == 0 ? "AKIAIOSFODNN7EXAMPLE" : (r.Next(2) == 0 ? "AKIA" : "ASIA") + Pick(r, Upper + Digits, 16));
            case 3:
                return new("AWS secret key", r.Next(2) == 0 ? "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" : Token(r, 19) + "/" + Token(r, 10) + "+" + Token(r, 9), Splittable: false);
            case 4:
                return new("GitHub token", (r.Next(2) == 0 ? "ghp_" : "gho_") + Token(r, 36));
            case 5:
                return new("Stripe secret key", (r.Next(2) == 0 ? "sk_test_" : "rk_live_") + Token(r, 24 + r.Next(76)));
            case 6:
                return r.Next(3) switch
                {
                    0 => new("Slack token", $"xoxb-{Pick(r, Digits, 12)}-{Pick(r, Digits, 13)}-{Token(r, 24)}"),
                    1 => new("OpenAI key", "sk-proj-" + Token(r, 48)),
                    _ => new("Google API key", "AIza" + Token(r, 35)),
                };
            case 7:
                return new("JWT", Jwt(r));
            case 8:
            {
                var pem = Pem(r, out var label);
                return new($"PEM {label}", pem);
            }
            case 9:
            {
                string[] schemes = ["postgres", "postgresql", "mysql", "amqp", "https", "redis", "mongodb+srv"];
                string[] users = ["admin", "app", "deploy", "svc-billing", "root"];
                string[] hosts = ["db.internal.example.com:5432", "10.0.3.17", "git.example.com", "rabbit.prod.example.net:5672", "cache:6379"];
                var url = $"{schemes[r.Next(schemes.Length)]}://{users[r.Next(users.Length)]}:{Token(r, 8 + r.Next(12))}@{hosts[r.Next(hosts.Length)]}/{(r.Next(2) == 0 ? "app" : "repo.git")}";
                return new("password in URL", url, Splittable: false);
            }
            case 10:
                return new("IBAN", r.Next(5) == 0 ? "GB82 WEST 1234 5698 7654 32" : Iban(r));
            case 11:
                return new("US SSN", Ssn(r));
            case 12:
                return new("UK NINO", Nino(r));
            case 13 or 14:
                return new("phone", Phone(r));
            default:
            {
                var email = $"{GivenNames[r.Next(GivenNames.Length)]}.{FamilyNames[r.Next(FamilyNames.Length)]}{(r.Next(2) == 0 ? "" : r.Next(100).ToString(CultureInfo.InvariantCulture))}@{MailDomains[r.Next(MailDomains.Length)]}";
                return new("e-mail", email);
            }
        }
    }

    static readonly string[] Carriers =
    [
        "Customer called about {0}, please follow up", "copy of {0} for the report", "{0}", "value={0}; keep it", "see {0} (from the CRM export)",
        "Reminder: {0}", "user note: {0}",
    ];

    /// <summary>Cut into 2–8 adjacent pieces of at most 64 characters, as the classifier joins them.</summary>
    static List<string> Fragments(Random r, string value)
    {
        var count = Math.Max(2, (value.Length + 59) / 60);
        count = Math.Min(8, Math.Min(value.Length, count + r.Next(2)));
        var cuts = new SortedSet<int>();
        var step = value.Length / (double)count;
        for (var i = 1; i < count; i++)
            cuts.Add(Math.Clamp((int)(i * step) + r.Next(-2, 3), 1, value.Length - 1));
        var pieces = new List<string>();
        var start = 0;
        foreach (var cut in cuts.Append(value.Length))
        {
            if (cut <= start)
                continue;
            pieces.Add(value[start..cut]);
            start = cut;
        }
        return pieces;
    }

    static JsonNode Nest(Random r, JsonNode leaf, int depth)
    {
        string[] keys = ["customer", "profile", "contact", "billing", "meta", "x", "payload", "record", "fields", "value"];
        var node = leaf;
        for (var i = 0; i < depth; i++)
            node = r.Next(4) == 0 ? new JsonArray(node) : new JsonObject { [keys[r.Next(keys.Length)]] = node };
        return node;
    }

    static readonly string[] ExfiltrationForms =
    [
        "as written", "as written", "url-encoded", "base64", "base64url", "split in an object", "split in an array", "split across fields",
        "property name", "nested deep", "inside an array", "mixed with hostile strings", "blob",
    ];

    HostileCase DataExfiltration(int index, Random r)
    {
        var p = Base(index, valid: false);
        var args = (JsonObject)p["arguments"]!;
        const string c = "data-exfiltration";
        var sample = Sensitive(r);
        var form = ExfiltrationForms[r.Next(ExfiltrationForms.Length)];
        if (!sample.Splittable && form.StartsWith("split", StringComparison.Ordinal))
            form = "as written";
        var sentence = string.Format(CultureInfo.InvariantCulture, Carriers[r.Next(Carriers.Length)], sample.Value);
        // What the audit must never hold: the value, and every form of it this case sends.
        var secrets = new List<string> { sample.Value };
        switch (form)
        {
            case "as written":
                PutText(args, sentence);
                break;
            case "blob":
                args["blob"] = $"-- export {index} --\n{sentence}\n{new string('.', r.Next(0, 2000))}\n-- end --";
                break;
            case "url-encoded":
            {
                var encoded = Uri.EscapeDataString(sentence);
                PutText(args, $"https://collector.example.net/c?d={encoded}&n={index}");
                secrets.Add(Uri.EscapeDataString(sample.Value));
                break;
            }
            case "base64" or "base64url":
            {
                var bytes = Encoding.UTF8.GetBytes(sentence);
                var encoded = form == "base64" ? Convert.ToBase64String(bytes) : Base64Url.EncodeToString(bytes);
                PutText(args, r.Next(2) == 0 ? encoded : $"attachment {encoded}");
                secrets.Add(encoded);
                break;
            }
            case "split in an object" or "split across fields":
            {
                var pieces = Fragments(r, sample.Value);
                var container = new JsonObject();
                string[] names = form == "split in an object" ? ["part1", "part2", "part3", "part4", "part5", "part6", "part7", "part8"]
                    : ["prefix", "body", "rest", "tail", "more", "x5", "x6", "x7"];
                for (var i = 0; i < pieces.Count; i++)
                    container[names[i]] = pieces[i];
                args[DataArgument] = form == "split in an object" ? container : new JsonObject { ["ticket"] = $"T-{index}", ["fields"] = container };
                secrets.AddRange(pieces.Where(SecretFragment));
                form = $"{form} ({pieces.Count} pieces)";
                break;
            }
            case "split in an array":
            {
                var pieces = Fragments(r, sample.Value);
                args[DataArgument] = new JsonArray(pieces.Select(piece => (JsonNode?)JsonValue.Create(piece)).ToArray());
                secrets.AddRange(pieces.Where(SecretFragment));
                form = $"{form} ({pieces.Count} pieces)";
                break;
            }
            case "property name":
                args[DataArgument] = r.Next(2) == 0
                    ? new JsonObject { [sample.Value] = "see attached" }
                    : new JsonObject { ["contacts"] = new JsonObject { [sample.Value] = new JsonObject { ["verified"] = true } } };
                break;
            case "nested deep":
            {
                // Arguments sit at depth 2 and the parser allows 64 levels: up to 55 more still parse.
                var depth = r.Next(4, 56);
                args[DataArgument] = Nest(r, JsonValue.Create(sentence), depth);
                form = $"nested {depth} deep";
                break;
            }
            case "inside an array":
                args[DataArgument] = new JsonObject
                {
                    ["items"] = new JsonArray(
                        new JsonObject { ["sku"] = $"SKU-{r.Next(10_000)}", ["qty"] = 1 },
                        new JsonObject { ["sku"] = $"SKU-{r.Next(10_000)}", ["comments"] = new JsonArray("ok", "gift wrap", sentence) }),
                };
                break;
            default:
            {
                var hostile = Injections[r.Next(Injections.Length)];
                // Every other one with a number and a space right before the value ("qty 2 4111 1111 1111 1111"),
                // which the classifier once missed.
                var glue = r.Next(2) == 0 ? " | " : $" qty {r.Next(1, 99)} ";
                args["note"] = Clip(hostile, Math.Max(0, 190 - sample.Value.Length)) + glue + sample.Value;
                if (args["note"]!.GetValue<string>().Length > 200)
                    args["note"] = "hostile";
                args[DataArgument] = new JsonObject { ["q"] = hostile, ["v"] = sentence, ["cmd"] = Injections[r.Next(Injections.Length)] };
                break;
            }
        }
        // A card number is still one as a JSON number.
        if (sample.Kind.StartsWith("card", StringComparison.Ordinal) && form == "as written" && r.Next(3) == 0)
        {
            var compact = new string(sample.Value.Where(char.IsDigit).ToArray());
            args["note"] = "charge the card below";
            args[DataArgument] = new JsonObject { ["pan"] = JsonValue.Create(long.Parse(compact, CultureInfo.InvariantCulture)), ["exp"] = "12/29" };
            form = "as a JSON number";
        }
        string[] expected = [ReasonCodes.DataBoundary];
        // Refused before the policy reads the arguments: the values must stay out of the audit all the same.
        var malformed = r.Next(12) == 0;
        if (malformed)
        {
            p["approved"] = true;
            expected = [ReasonCodes.UnknownField];
            form += ", with an unknown field";
        }
        var hostileCase = Case(index, c, $"{sample.Kind}, {form}", false, Bytes(p), expected);
        hostileCase.Secrets = secrets.Where(s => s.Length >= HostileCase.MinSecretChars).Distinct(StringComparer.Ordinal).ToList();
        return hostileCase;
    }

    /// <summary>In the note when it fits its maxLength of 200, else in the blob.</summary>
    static void PutText(JsonObject args, string text)
    {
        if (text.Length <= 200)
            args["note"] = text;
        else
            args["blob"] = text;
    }

    /// <summary>
    /// A piece of a split value worth looking for in the audit on its own: key material, not a domain
    /// ("mple.com"), a group of digits, a JWT's header (the same in every token of its algorithm) or a PEM line.
    /// </summary>
    static bool SecretFragment(string piece) =>
        piece.Length >= 12 && piece.IndexOfAny(['.', '@', ' ', '-', '\n']) < 0 && !piece.StartsWith("eyJ", StringComparison.Ordinal);

    // ------------------------------------------------------------------ valid look-alikes

    static readonly string[] Identifiers =
        ["getUserAccountBalance", "HttpClientFactory", "AGENTBUS_RABBITMQ_MANAGEMENT_URL", "snake_case_identifier", "ReasonCodes.DataBoundary",
         "X-Request-Id", "com.example.billing.InvoiceService", "__init__", "useEffect", "k8s-pod-7f9c", "MAX_PROPOSAL_BYTES", "ToJsonString"];

    static string Hex(Random r, int length) => Pick(r, "0123456789abcdef", length);

    static string Uuid(Random r)
    {
        var bytes = new byte[16];
        r.NextBytes(bytes);
        return new Guid(bytes).ToString(r.Next(3) == 0 ? "N" : "D");
    }

    static string Timestamp(Random r)
    {
        var at = new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero).AddSeconds(r.Next(200_000_000)).AddMilliseconds(r.Next(1000));
        return r.Next(3) switch
        {
            0 => at.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
            1 => at.ToOffset(TimeSpan.FromHours(r.Next(-11, 13))).ToString("yyyy-MM-ddTHH:mm:sszzz", CultureInfo.InvariantCulture),
            _ => at.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
        };
    }

    static string Version(Random r) => r.Next(3) switch
    {
        0 => $"{r.Next(20)}.{r.Next(40)}.{r.Next(200)}",
        1 => $"v{r.Next(12)}.{r.Next(10)}.{r.Next(300)}-rc.{r.Next(1, 5)}.{r.Next(20000, 26000)}.{r.Next(1, 30)}",
        _ => $"{r.Next(1, 4)}.{r.Next(10)}.{r.Next(10)}+build.{Hex(r, 7)}",
    };

    static string Order(Random r) => r.Next(3) switch
    {
        0 => $"ORD-{r.Next(2019, 2027)}-{r.Next(1_000_000):D6}",
        1 => $"INV-{r.Next(100_000, 999_999)}",
        _ => $"ORD-{r.Next(200, 1000)}-{r.Next(200, 1000)}-{r.Next(10_000):D4}",
    };

    /// <summary>
    /// Values that look sensitive and are not: ids, hashes, shas, order numbers, times, versions, identifiers,
    /// and URLs and addresses the formats exclude. A denial here is a false positive of the classifier.
    /// </summary>
    (string Label, string Note, JsonNode Data) LookAlikes(int index, Random r)
    {
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("look-alike:" + ActionId(index))));
        var gitSha = Hex(r, 40);
        switch (r.Next(6))
        {
            case 0:
                return ("ids and hashes", $"Order {Order(r)} shipped; tracking {Uuid(r)}, commit {gitSha[..(7 + r.Next(6))]}",
                    new JsonObject
                    {
                        ["orderId"] = Order(r), ["requestId"] = Uuid(r), ["sha256"] = sha256, ["commit"] = gitSha,
                        ["createdAt"] = Timestamp(r), ["version"] = Version(r),
                    });
            case 1:
                return ("arrays of ids", $"Batch of {r.Next(2, 50)} orders at {Timestamp(r)}",
                    new JsonObject
                    {
                        ["orders"] = new JsonArray(Order(r), Order(r), Order(r), Order(r)),
                        ["ids"] = new JsonArray(Uuid(r), Uuid(r), Uuid(r)),
                        ["shas"] = new JsonArray(Hex(r, 40), Hex(r, 12), Hex(r, 7)),
                        ["quantities"] = new JsonArray(r.Next(1, 10), r.Next(1, 100), r.Next(1, 1000)),
                        ["lines"] = new JsonArray(1001 + index % 100, 1002 + index % 100, 1003 + index % 100, 1004 + index % 100),
                    });
            case 2:
            {
                var identifier = Identifiers[r.Next(Identifiers.Length)];
                return ("code identifiers", $"Renamed {identifier} to {Identifiers[r.Next(Identifiers.Length)]} in {Version(r)}",
                    new JsonObject
                    {
                        [identifier] = Identifiers[r.Next(Identifiers.Length)],
                        ["symbols"] = new JsonArray(Identifiers[r.Next(Identifiers.Length)], Identifiers[r.Next(Identifiers.Length)], Identifiers[r.Next(Identifiers.Length)]),
                        ["digest"] = $"sha256:{sha256}",
                    });
            }
            case 3:
                return ("urls without credentials", "Deploy https://git.example.com/org/repo.git via git@github.com:org/repo.git",
                    new JsonObject
                    {
                        ["clone"] = "ssh://git@git.example.com:2222/org/repo.git",
                        ["db"] = "postgres://app:${DB_PASSWORD}@db.internal:5432/app",
                        ["masked"] = "https://deploy:***@registry.example.com/v2/",
                        ["asset"] = "logo@2x.png",
                        ["docs"] = $"https://docs.example.com/v{r.Next(1, 5)}/orders?id={Order(r)}&since={Uri.EscapeDataString(Timestamp(r))}",
                    });
            case 4:
                return ("times and numbers", $"Window {Timestamp(r)} to {Timestamp(r)}, build {Version(r)}",
                    new JsonObject
                    {
                        ["epochMs"] = 1_700_000_000_000L + r.Next(),
                        ["since"] = Timestamp(r),
                        ["until"] = Timestamp(r),
                        ["elapsed"] = $"{r.Next(24):D2}:{r.Next(60):D2}:{r.Next(60):D2}.{r.Next(1000):D3}",
                        ["amount"] = $"{r.Next(100_000)}.{r.Next(100):D2}",
                        ["sequence"] = $"{r.Next(10_000_000, 99_999_999)}",
                    });
            default:
                return ("mixed", $"{Identifiers[r.Next(Identifiers.Length)]}: {Order(r)} at {Timestamp(r)}",
                    new JsonObject
                    {
                        [Uuid(r)] = new JsonObject { ["sha"] = gitSha, ["version"] = Version(r) },
                        ["nested"] = Nest(r, JsonValue.Create(sha256), r.Next(2, 20)),
                        ["tags"] = new JsonArray(Version(r), Order(r), Hex(r, 12)),
                    });
        }
    }
}
