using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;
using AgentBus.DataBoundaries;

namespace AgentBus.Audit.Redaction;

/// <param name="Json">The copy the long-lived audit keeps.</param>
/// <param name="Changed">Whether <paramref name="Json"/> differs from <paramref name="Unredacted"/>, which the raw tier then keeps.</param>
/// <param name="Unredacted">
/// The message with only what the data classifier found in its arguments and result masked: the most of
/// it the audit ever stores, in any tier.
/// </param>
public readonly record struct RedactionResult(string Json, bool Changed, string Unredacted);

/// <summary>
/// Produces the copy of a message the long-lived audit keeps. Generic rules, for every message:
/// values under keys that name secrets (password, secret, token, api key, authorization, cookie,
/// private key, card number, CVV, SSN…, compared case- and punctuation-insensitively, plus any key
/// ending in password, secret, token or apikey) are replaced whole; inside any string, bearer and
/// basic credentials, JWTs, passwords in URLs, sensitive query parameters and (when enabled) payment
/// card numbers are masked (see <see cref="CardContext"/> for what counts as one: a Luhn-valid digit run
/// alone is not enough, and values of id fields are never taken for cards). Per tool, configured paths into the arguments and
/// the result are masked too. Strings are also made storable (<see cref="AuditText.Clean"/>).
/// The input is never changed; <see cref="RedactionResult.Changed"/> says whether the copy differs.
/// </summary>
public sealed partial class AuditRedactor
{
    public const string Mask = "[redacted]";
    public const string CardMask = "[redacted:card]";
    public const string JwtMask = "[redacted:jwt]";

    static readonly HashSet<string> BuiltInKeys =
    [
        "password", "passwd", "pwd", "passphrase", "secret", "clientsecret", "apisecret", "token", "accesstoken", "refreshtoken",
        "idtoken", "sessiontoken", "authtoken", "apikey", "xapikey", "apitoken", "authorization", "proxyauthorization",
        "cookie", "setcookie", "privatekey", "secretkey", "signingkey", "cardnumber", "creditcard", "creditcardnumber",
        "ccnumber", "cvv", "cvv2", "cvc", "securitycode", "ssn", "socialsecuritynumber", "otp",
    ];

    static readonly string[] SensitiveSuffixes = ["password", "secret", "token", "apikey", "privatekey"];

    static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true };
    static readonly JsonReaderOptions ReaderOptions = new() { MaxDepth = 256 };

    readonly HashSet<string> _keys;
    readonly Dictionary<string, RedactionPath[]> _tools;
    readonly bool _cards;

    public AuditRedactor(RedactionOptions options)
    {
        _keys = new HashSet<string>(BuiltInKeys, StringComparer.Ordinal);
        foreach (var key in options.SensitiveKeys)
            _keys.Add(NormalizeKey(key));
        _tools = options.Tools.ToDictionary(t => t.Key, t => t.Value.Select(RedactionPath.Parse).ToArray(), StringComparer.Ordinal);
        _cards = options.MaskCardNumbers;
    }

    public static AuditRedactor Default { get; } = new(new RedactionOptions());

    public bool IsSensitiveKey(string key)
    {
        var normalized = NormalizeKey(key);
        if (normalized.Length == 0)
            return false;
        if (_keys.Contains(normalized))
            return true;
        foreach (var suffix in SensitiveSuffixes)
            if (normalized.EndsWith(suffix, StringComparison.Ordinal))
                return true;
        return false;
    }

    static string NormalizeKey(string key)
    {
        Span<char> buffer = key.Length <= 128 ? stackalloc char[key.Length] : new char[key.Length];
        var n = 0;
        foreach (var c in key)
            if (char.IsAsciiLetterOrDigit(c))
                buffer[n++] = char.ToLowerInvariant(c);
        return new string(buffer[..n]);
    }

    /// <summary>Redacts a JSON document; a document that cannot be read becomes a description of itself.</summary>
    public RedactionResult Redact(string json, string? tool)
    {
        json = MaskClassified(json);
        var paths = tool is not null && _tools.TryGetValue(tool, out var configured) ? configured : [];
        var input = Encoding.UTF8.GetBytes(json);
        var output = new ArrayBufferWriter<byte>(input.Length + 64);
        var walk = new Walk(this, paths);
        try
        {
            var reader = new Utf8JsonReader(input, ReaderOptions);
            using (var writer = new Utf8JsonWriter(output, WriterOptions))
            {
                if (!reader.Read())
                    throw new JsonException("The document is empty.");
                walk.Value(ref reader, writer, depth: 0, active: []);
            }
            return new RedactionResult(Encoding.UTF8.GetString(output.WrittenSpan), walk.Changed, json);
        }
        catch (JsonException ex)
        {
            var description = JsonSerializer.Serialize(new { unreadable = $"The payload is not valid JSON ({ex.Message})", bytes = input.Length });
            return new RedactionResult(description, true, json);
        }
    }

    public const string ClassifiedMaskPrefix = "[redacted:";

    /// <summary>
    /// A message's arguments, result and error (its top-level members of those names) with every secret
    /// and every piece of personal data the classifier finds masked as "[redacted:CLASS]" (an error text
    /// that holds one is masked whole). Nothing
    /// else of the message changes; a message without such members, or that does not parse, is returned as it is.
    /// </summary>
    public static string MaskClassified(string json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = ReaderOptions.MaxDepth });
        }
        catch (JsonException)
        {
            return json;
        }
        using (document)
        {
            try
            {
                return MaskClassified(json, document.RootElement);
            }
            catch (InvalidOperationException)
            {
                // A member name with an escaped lone surrogate cannot be read as a string; the walk below copes with it.
                return json;
            }
        }
    }

    /// <summary>
    /// The card rule's exception (issue 11), kept for the classifier: a digit run in an identifier
    /// field (orderId, ticket_id, externalReference…) is that record's id even when it passes Luhn, and
    /// the audit must be able to name the record. A policy boundary still refuses it as a card.
    /// </summary>
    static bool IsIdentifierThatReadsAsCard(DataFinding finding)
    {
        if (finding.Class != DataClasses.Card || finding.InPropertyName || finding.Encoding is not null)
            return false;
        return DataPointers.Tokens(finding.Pointer) is [.., var last] && IsIdentifierKey(last);
    }

    /// <summary>
    /// What an agent or a tool wrote: the arguments, the result, and an outcome's error (a tool's answer
    /// may quote what it was sent). Decisions' reasons are made safe where they are written (pointers go
    /// through DataPointers.Safe), and they name approvers, whose names may be addresses.
    /// </summary>
    static readonly HashSet<string> ClassifiedMembers = new(["arguments", "result", "error"], StringComparer.OrdinalIgnoreCase);

    static string MaskClassified(string json, JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
            return json;
        Dictionary<string, JsonElement>? replaced = null;
        foreach (var member in root.EnumerateObject())
        {
            if (!ClassifiedMembers.Contains(member.Name))
                continue;
            var masked = DataMasker.Mask(member.Value, IsIdentifierThatReadsAsCard, static c => $"{ClassifiedMaskPrefix}{c}]");
            if (masked.Masked.Count > 0)
                (replaced ??= new Dictionary<string, JsonElement>(StringComparer.Ordinal))[member.Name] = masked.Document;
        }
        if (replaced is null)
            return json;
        var output = new ArrayBufferWriter<byte>(json.Length + 64);
        using (var writer = new Utf8JsonWriter(output, WriterOptions))
        {
            writer.WriteStartObject();
            foreach (var member in root.EnumerateObject())
            {
                writer.WritePropertyName(member.Name);
                (replaced.TryGetValue(member.Name, out var value) ? value : member.Value).WriteTo(writer);
            }
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(output.WrittenSpan);
    }

    /// <summary>
    /// Where a value sits, for the card rule. A Luhn check passes for one digit run in ten, so order,
    /// action and run identifiers were masked as cards: now a value is a card number only when it
    /// looks like one in its context.
    /// </summary>
    public enum CardContext
    {
        /// <summary>Any field: the whole value is 13–19 digits (single spaces or dashes between groups
        /// allowed), passes Luhn and starts with a card network's prefix (2221–2720, 3x of Amex, Diners
        /// and JCB, 4, 5, 6); or free text holds such a run standing alone (not glued to letters,
        /// digits, '-', '_', '/', '.' or '#', as in ORD-4111…).</summary>
        Text,

        /// <summary>The field names a card (card, pan, cc, a card object's number): Luhn alone decides.</summary>
        Card,

        /// <summary>An identifier field (id, *Id, *_id, *Ids, idempotencyKey, *Reference): never a card.</summary>
        Identifier,
    }

    /// <summary>Masks credentials, tokens and card numbers inside free text.</summary>
    public string RedactText(string text, out bool changed) => RedactText(text, CardContext.Text, out changed);

    public string RedactText(string text, CardContext context, out bool changed)
    {
        var original = text;
        text = AuditText.Clean(text);
        // Each pattern runs only when the text could hold it: most strings are names and titles.
        if (text.Length >= 8)
        {
            if (text.Contains("bearer", StringComparison.OrdinalIgnoreCase) || text.Contains("basic", StringComparison.OrdinalIgnoreCase))
                text = Credentials().Replace(text, m => $"{m.Groups[1].Value} {Mask}");
            if (text.Contains("eyJ", StringComparison.Ordinal))
                text = Jwt().Replace(text, JwtMask);
            if (text.Contains("://", StringComparison.Ordinal) && text.Contains('@'))
                text = UrlPassword().Replace(text, m => $"{m.Groups[1].Value}{Mask}@");
            if (text.Contains('=') && text.AsSpan().IndexOfAny('?', '&', ';') >= 0)
                text = QueryParameter().Replace(text, m => IsSensitiveKey(Uri.UnescapeDataString(m.Groups[2].Value))
                    ? $"{m.Groups[1].Value}{m.Groups[2].Value}={Mask}"
                    : m.Value);
            if (_cards && context != CardContext.Identifier && text.Length >= 13 && CountDigits(text) >= 13)
            {
                if (WholeCardCandidate().IsMatch(text))
                    text = IsCardNumber(text) && (context == CardContext.Card || HasCardPrefix(text)) ? CardMask : text;
                else
                    text = CardCandidate().Replace(text, m => IsCardNumber(m.Value) && HasCardPrefix(m.Value) ? CardMask : m.Value);
            }
        }
        changed = !ReferenceEquals(text, original) && !string.Equals(text, original, StringComparison.Ordinal);
        return text;
    }

    static int CountDigits(string text)
    {
        var count = 0;
        foreach (var c in text)
            if (char.IsAsciiDigit(c))
                count++;
        return count;
    }

    /// <summary>
    /// Whether the digits start like a payment card's: Mastercard's 2221–2720, the travel and
    /// entertainment 3x ranges (Amex 34/37, Diners 30/36/38/39, JCB 35), and 4, 5 and 6 (Visa,
    /// Mastercard, Maestro, Discover, UnionPay, RuPay). Numbers starting 0, 1, 7, 8 or 9 (and most
    /// timestamps, phone numbers, sequence ids) are not cards.
    /// </summary>
    public static bool HasCardPrefix(string candidate)
    {
        Span<char> head = stackalloc char[4];
        var n = 0;
        foreach (var c in candidate)
        {
            if (char.IsAsciiDigit(c))
                head[n++] = c;
            if (n == head.Length)
                break;
        }
        if (n < 4)
            return false;
        var prefix = int.Parse(head, NumberStyles.None, CultureInfo.InvariantCulture);
        return head[0] switch
        {
            '2' => prefix is >= 2221 and <= 2720,
            '3' => prefix / 100 is 30 or 34 or 35 or 36 or 37 or 38 or 39,
            '4' or '5' or '6' => true,
            _ => false,
        };
    }

    /// <summary>The card rule's context of a field, from its name and its parent's.</summary>
    public static CardContext ContextOf(string key, CardContext parent, bool parentIsCard)
    {
        if (IsIdentifierKey(key))
            return CardContext.Identifier;
        var normalized = NormalizeKey(key);
        if (normalized.Contains("card", StringComparison.Ordinal) || normalized is "pan" or "cc" or "ccnum" or "primaryaccountnumber")
            return CardContext.Card;
        if (parentIsCard && normalized is "number" or "num" or "no")
            return CardContext.Card;
        return parent == CardContext.Identifier ? CardContext.Identifier : CardContext.Text;
    }

    /// <summary>id, orderId, order_id, ORDER-ID, actionIds, idempotencyKey, externalReference…</summary>
    static bool IsIdentifierKey(string key)
    {
        var trimmed = key.Trim();
        if (trimmed.EndsWith('s') && trimmed.Length > 3 && (trimmed.EndsWith("Ids", StringComparison.Ordinal) || trimmed.EndsWith("_ids", StringComparison.OrdinalIgnoreCase) || trimmed.EndsWith("-ids", StringComparison.OrdinalIgnoreCase)))
            return true;
        if (trimmed.Equals("id", StringComparison.OrdinalIgnoreCase) || trimmed.EndsWith("Id", StringComparison.Ordinal) || trimmed.EndsWith("ID", StringComparison.Ordinal)
            || trimmed.EndsWith("_id", StringComparison.OrdinalIgnoreCase) || trimmed.EndsWith("-id", StringComparison.OrdinalIgnoreCase)
            || trimmed.EndsWith(".id", StringComparison.OrdinalIgnoreCase))
            return true;
        var normalized = NormalizeKey(trimmed);
        return normalized is "idempotencykey" or "uuid" or "guid" || normalized.EndsWith("reference", StringComparison.Ordinal)
               || normalized.EndsWith("uuid", StringComparison.Ordinal);
    }

    public static bool IsCardNumber(string candidate)
    {
        Span<int> digits = stackalloc int[19];
        var count = 0;
        foreach (var c in candidate)
        {
            if (c is ' ' or '-')
                continue;
            if (!char.IsAsciiDigit(c) || count == digits.Length)
                return false;
            digits[count++] = c - '0';
        }
        if (count < 13)
            return false;

        var sum = 0;
        for (var i = 0; i < count; i++)
        {
            var d = digits[count - 1 - i];
            if (i % 2 == 1)
            {
                d *= 2;
                if (d > 9)
                    d -= 9;
            }
            sum += d;
        }
        return sum % 10 == 0;
    }

    // The credential must hold a digit or punctuation, so prose ("Basic validation failed") is left alone.
    [GeneratedRegex(@"\b(Bearer|Basic)\s+(?=[A-Za-z0-9._~+/=-]*[0-9._~+/=-])[A-Za-z0-9._~+/=-]{8,}", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Credentials();

    [GeneratedRegex(@"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*", RegexOptions.CultureInvariant)]
    private static partial Regex Jwt();

    [GeneratedRegex(@"(://[^/\s:@]+:)[^/\s@]+@", RegexOptions.CultureInvariant)]
    private static partial Regex UrlPassword();

    [GeneratedRegex(@"([?&;])([^=&#\s;]{1,64})=([^&#\s;]+)", RegexOptions.CultureInvariant)]
    private static partial Regex QueryParameter();

    // Standing alone: not glued to an identifier (ORD-4111…, run_4111…, v1.4111…, #4111…).
    [GeneratedRegex(@"(?<![0-9A-Za-z_./#-])[0-9](?:[ -]?[0-9]){12,18}(?![0-9A-Za-z_/#-])", RegexOptions.CultureInvariant)]
    private static partial Regex CardCandidate();

    [GeneratedRegex(@"^\s*[0-9](?:[ -]?[0-9]){12,18}\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex WholeCardCandidate();

    sealed class Walk(AuditRedactor redactor, RedactionPath[] paths)
    {
        public bool Changed { get; private set; }

        public void Value(ref Utf8JsonReader reader, Utf8JsonWriter writer, int depth, List<(RedactionPath Path, int Position)> active,
            CardContext context = CardContext.Text, bool isCard = false)
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject:
                    writer.WriteStartObject();
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        var name = ReadString(ref reader);
                        reader.Read();
                        writer.WritePropertyName(name);
                        Child(ref reader, writer, depth, active, name, context: ContextOf(name, context, isCard));
                    }
                    writer.WriteEndObject();
                    break;
                case JsonTokenType.StartArray:
                    writer.WriteStartArray();
                    var index = 0;
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                        Child(ref reader, writer, depth, active, (index++).ToString(CultureInfo.InvariantCulture), arrayElement: true,
                            context: context, parentIsCard: isCard);
                    writer.WriteEndArray();
                    break;
                case JsonTokenType.String:
                    writer.WriteStringValue(redactor.RedactText(ReadString(ref reader), context, out var changed));
                    Changed |= changed;
                    break;
                case JsonTokenType.Number:
                    var raw = Encoding.UTF8.GetString(reader.ValueSpan);
                    if (redactor._cards && context != CardContext.Identifier && raw.Length is >= 13 and <= 19 && IsCardNumber(raw)
                        && (context == CardContext.Card || HasCardPrefix(raw)))
                    {
                        writer.WriteStringValue(CardMask);
                        Changed = true;
                    }
                    else
                        writer.WriteRawValue(reader.ValueSpan, skipInputValidation: true);
                    break;
                case JsonTokenType.True:
                    writer.WriteBooleanValue(true);
                    break;
                case JsonTokenType.False:
                    writer.WriteBooleanValue(false);
                    break;
                default:
                    writer.WriteNullValue();
                    break;
            }
        }

        void Child(ref Utf8JsonReader reader, Utf8JsonWriter writer, int depth, List<(RedactionPath Path, int Position)> active,
            string segment, bool arrayElement = false, CardContext context = CardContext.Text, bool parentIsCard = false)
        {
            var next = new List<(RedactionPath, int)>();
            // An object under "authorization" is ExecuteTool's signed grant (key id, approval id, expiry,
            // signature), evidence the audit keeps, not a credential: only a string there is one.
            var masked = !arrayElement && redactor.IsSensitiveKey(segment)
                         && !(reader.TokenType == JsonTokenType.StartObject && NormalizeKey(segment) == "authorization");
            foreach (var (path, position) in active)
                if (path.Matches(position, segment))
                {
                    if (position + 1 == path.Segments.Count)
                        masked = true;
                    else
                        next.Add((path, position + 1));
                }

            // The tool's paths start at the message's arguments and result.
            if (depth == 0 && !arrayElement && segment is "arguments" or "result")
                foreach (var path in paths)
                    if (path.Scope is null || path.Scope == segment)
                        next.Add((path, 0));

            if (masked && reader.TokenType != JsonTokenType.Null)
            {
                reader.Skip();
                writer.WriteStringValue(Mask);
                Changed = true;
                return;
            }
            // A card object's fields: its "number" is a card number.
            var isCard = arrayElement ? parentIsCard : context == CardContext.Card;
            Value(ref reader, writer, depth + 1, next, context, isCard);
        }

        string ReadString(ref Utf8JsonReader reader)
        {
            string value;
            try
            {
                value = reader.GetString()!;
            }
            catch (InvalidOperationException)
            {
                // An escaped lone surrogate ("\ud800") is valid JSON but not a valid string.
                value = LenientUnescape(reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan);
            }
            var clean = AuditText.Clean(value);
            if (!ReferenceEquals(clean, value))
                Changed = true;
            return clean;
        }
    }

    static string LenientUnescape(ReadOnlySpan<byte> escaped)
    {
        var text = Encoding.UTF8.GetString(escaped);
        var builder = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] != '\\' || i + 1 >= text.Length)
            {
                builder.Append(text[i]);
                continue;
            }
            var e = text[++i];
            switch (e)
            {
                case 'b': builder.Append('\b'); break;
                case 'f': builder.Append('\f'); break;
                case 'n': builder.Append('\n'); break;
                case 'r': builder.Append('\r'); break;
                case 't': builder.Append('\t'); break;
                case 'u' when i + 4 < text.Length
                              && ushort.TryParse(text.AsSpan(i + 1, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var code):
                    builder.Append((char)code);
                    i += 4;
                    break;
                default: builder.Append(e); break;
            }
        }
        return builder.ToString();
    }
}
