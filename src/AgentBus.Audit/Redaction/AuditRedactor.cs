using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace AgentBus.Audit.Redaction;

public readonly record struct RedactionResult(string Json, bool Changed);

/// <summary>
/// Produces the copy of a message the long-lived audit keeps. Generic rules, for every message:
/// values under keys that name secrets (password, secret, token, api key, authorization, cookie,
/// private key, card number, CVV, SSN…, compared case- and punctuation-insensitively, plus any key
/// ending in password, secret, token or apikey) are replaced whole; inside any string, bearer and
/// basic credentials, JWTs, passwords in URLs, sensitive query parameters and (when enabled) digit
/// runs that pass the Luhn check are masked. Per tool, configured paths into the arguments and
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
            return new RedactionResult(Encoding.UTF8.GetString(output.WrittenSpan), walk.Changed);
        }
        catch (JsonException ex)
        {
            var description = JsonSerializer.Serialize(new { unreadable = $"The payload is not valid JSON ({ex.Message})", bytes = input.Length });
            return new RedactionResult(description, true);
        }
    }

    /// <summary>Masks credentials, tokens and card numbers inside free text.</summary>
    public string RedactText(string text, out bool changed)
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
            if (_cards && text.Length >= 13 && CountDigits(text) >= 13)
                text = CardCandidate().Replace(text, m => IsCardNumber(m.Value) ? CardMask : m.Value);
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

    [GeneratedRegex(@"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])", RegexOptions.CultureInvariant)]
    private static partial Regex CardCandidate();

    sealed class Walk(AuditRedactor redactor, RedactionPath[] paths)
    {
        public bool Changed { get; private set; }

        public void Value(ref Utf8JsonReader reader, Utf8JsonWriter writer, int depth, List<(RedactionPath Path, int Position)> active)
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
                        Child(ref reader, writer, depth, active, name);
                    }
                    writer.WriteEndObject();
                    break;
                case JsonTokenType.StartArray:
                    writer.WriteStartArray();
                    var index = 0;
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                        Child(ref reader, writer, depth, active, (index++).ToString(CultureInfo.InvariantCulture), arrayElement: true);
                    writer.WriteEndArray();
                    break;
                case JsonTokenType.String:
                    writer.WriteStringValue(redactor.RedactText(ReadString(ref reader), out var changed));
                    Changed |= changed;
                    break;
                case JsonTokenType.Number:
                    var raw = Encoding.UTF8.GetString(reader.ValueSpan);
                    if (redactor._cards && raw.Length is >= 13 and <= 19 && IsCardNumber(raw))
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
            string segment, bool arrayElement = false)
        {
            var next = new List<(RedactionPath, int)>();
            var masked = !arrayElement && redactor.IsSensitiveKey(segment);
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
            Value(ref reader, writer, depth + 1, next);
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
