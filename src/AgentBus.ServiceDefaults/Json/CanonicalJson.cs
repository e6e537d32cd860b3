using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace AgentBus.ServiceDefaults.Json;

/// <summary>
/// RFC 8785 (JSON Canonicalization Scheme): one byte sequence per JSON value whatever the key
/// order, spacing or number spelling the agent used, so a hash of the arguments binds exactly what
/// will run. Numbers follow ECMAScript's shortest round-trip form, as the RFC requires.
/// </summary>
public static class CanonicalJson
{
    public static byte[] Serialize(JsonElement value)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JcsEncoder.Instance, SkipValidation = true }))
            Write(writer, value);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>"sha256:" and the lowercase hex SHA-256 of the canonical form.</summary>
    public static string Hash(JsonElement value) =>
        "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Serialize(value)));

    static void Write(Utf8JsonWriter writer, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                var properties = value.EnumerateObject().Select(p => (p.Name, p.Value)).ToList();
                properties.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
                foreach (var (name, child) in properties)
                {
                    writer.WritePropertyName(name);
                    Write(writer, child);
                }
                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in value.EnumerateArray())
                    Write(writer, item);
                writer.WriteEndArray();
                break;
            case JsonValueKind.String:
                writer.WriteStringValue(value.GetString());
                break;
            case JsonValueKind.Number:
                writer.WriteRawValue(FormatNumber(value.GetDouble()), skipInputValidation: true);
                break;
            case JsonValueKind.True:
                writer.WriteBooleanValue(true);
                break;
            case JsonValueKind.False:
                writer.WriteBooleanValue(false);
                break;
            case JsonValueKind.Null:
                writer.WriteNullValue();
                break;
            default:
                throw new ArgumentException($"A {value.ValueKind} JSON value has no canonical form.", nameof(value));
        }
    }

    /// <summary>ECMAScript Number.prototype.toString for finite doubles (ECMA-262 7.1.12.1).</summary>
    public static string FormatNumber(double number)
    {
        if (double.IsNaN(number) || double.IsInfinity(number))
            throw new ArgumentOutOfRangeException(nameof(number), "JSON has no NaN or Infinity.");
        if (number == 0)
            return "0";

        var negative = number < 0;
        // "E16" is not always shortest; "R" is, so take its digits and exponent apart.
        var shortest = Math.Abs(number).ToString("R", CultureInfo.InvariantCulture);
        var exponentAt = shortest.IndexOfAny(['E', 'e']);
        var mantissa = exponentAt < 0 ? shortest : shortest[..exponentAt];
        var exponent = exponentAt < 0 ? 0 : int.Parse(shortest[(exponentAt + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);

        var point = mantissa.IndexOf('.');
        var digits = point < 0 ? mantissa : mantissa.Remove(point, 1);
        var pointPosition = (point < 0 ? mantissa.Length : point) + exponent;
        var leadingZeros = digits.Length - digits.TrimStart('0').Length;
        digits = digits.Trim('0');
        pointPosition -= leadingZeros;

        var k = digits.Length;
        var n = pointPosition;
        var text = new StringBuilder(32);
        if (negative)
            text.Append('-');

        if (k <= n && n <= 21)
            text.Append(digits).Append('0', n - k);
        else if (0 < n && n <= 21)
            text.Append(digits, 0, n).Append('.').Append(digits, n, k - n);
        else if (-6 < n && n <= 0)
            text.Append("0.").Append('0', -n).Append(digits);
        else
        {
            var e = n - 1;
            text.Append(digits[0]);
            if (k > 1)
                text.Append('.').Append(digits, 1, k - 1);
            text.Append('e').Append(e < 0 ? '-' : '+').Append(Math.Abs(e).ToString(CultureInfo.InvariantCulture));
        }

        return text.ToString();
    }

    /// <summary>RFC 8785 string escaping: only '"', '\\' and control characters, lowercase hex.</summary>
    sealed class JcsEncoder : System.Text.Encodings.Web.JavaScriptEncoder
    {
        public static readonly JcsEncoder Instance = new();

        public override int MaxOutputCharactersPerInputCharacter => 6;

        public override bool WillEncode(int unicodeScalar) => unicodeScalar < 0x20 || unicodeScalar == '"' || unicodeScalar == '\\';

        public override unsafe int FindFirstCharacterToEncode(char* text, int textLength)
        {
            for (var i = 0; i < textLength; i++)
                if (text[i] < 0x20 || text[i] == '"' || text[i] == '\\')
                    return i;
            return -1;
        }

        public override unsafe bool TryEncodeUnicodeScalar(int unicodeScalar, char* buffer, int bufferLength, out int numberOfCharactersWritten)
        {
            var escaped = unicodeScalar switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\b' => "\\b",
                '\f' => "\\f",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ => unicodeScalar < 0x20 ? $"\\u{unicodeScalar:x4}" : null,
            };
            if (escaped is null)
            {
                var rune = new Rune(unicodeScalar);
                if (bufferLength < rune.Utf16SequenceLength)
                {
                    numberOfCharactersWritten = 0;
                    return false;
                }
                numberOfCharactersWritten = rune.EncodeToUtf16(new Span<char>(buffer, bufferLength));
                return true;
            }
            if (bufferLength < escaped.Length)
            {
                numberOfCharactersWritten = 0;
                return false;
            }
            escaped.AsSpan().CopyTo(new Span<char>(buffer, bufferLength));
            numberOfCharactersWritten = escaped.Length;
            return true;
        }
    }
}
