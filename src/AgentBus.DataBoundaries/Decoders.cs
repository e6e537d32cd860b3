using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace AgentBus.DataBoundaries;

/// <summary>The encodings a model might wrap data in, decoded once and within bounds.</summary>
static class Decoders
{
    /// <summary>Base64 tokens longer than this are decoded from their first this many characters only.</summary>
    internal const int MaxBase64Chars = 16 * 1024;

    static readonly sbyte[] Base64Values = BuildBase64Values();

    static sbyte[] BuildBase64Values()
    {
        var values = new sbyte[128];
        Array.Fill(values, (sbyte)-1);
        for (var i = 0; i < 26; i++)
        {
            values['A' + i] = (sbyte)i;
            values['a' + i] = (sbyte)(26 + i);
        }
        for (var i = 0; i < 10; i++)
            values['0' + i] = (sbyte)(52 + i);
        values['+'] = values['-'] = 62;
        values['/'] = values['_'] = 63;
        return values;
    }

    public static bool HasPercentEscape(ReadOnlySpan<char> text)
    {
        var from = 0;
        while (true)
        {
            var found = text[from..].IndexOf('%');
            if (found < 0)
                return false;
            var at = from + found;
            if (at + 2 < text.Length && char.IsAsciiHexDigit(text[at + 1]) && char.IsAsciiHexDigit(text[at + 2]))
                return true;
            from = at + 1;
        }
    }

    /// <summary>Percent-decoding of every <c>%XX</c> (not <c>+</c>, which base64 keys contain); the bytes are read as UTF-8, invalid sequences as U+FFFD.</summary>
    public static string? PercentDecode(ReadOnlySpan<char> text)
    {
        var bytes = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(text.Length));
        try
        {
            var count = 0;
            var i = 0;
            while (i < text.Length)
            {
                var c = text[i];
                if (c == '%' && i + 2 < text.Length && char.IsAsciiHexDigit(text[i + 1]) && char.IsAsciiHexDigit(text[i + 2]))
                {
                    bytes[count++] = (byte)((HexValue(text[i + 1]) << 4) | HexValue(text[i + 2]));
                    i += 3;
                }
                else if (c < 0x80)
                {
                    bytes[count++] = (byte)c;
                    i++;
                }
                else
                {
                    var width = char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
                    count += Encoding.UTF8.GetBytes(text.Slice(i, width), bytes.AsSpan(count));
                    i += width;
                }
            }
            return Encoding.UTF8.GetString(bytes, 0, count);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;

    /// <summary>
    /// The text a base64 or base64url token stands for, when its bytes are valid UTF-8 made of printable
    /// characters (tab, CR and LF allowed) and at least six bytes long; otherwise null.
    /// </summary>
    public static string? Base64Text(ReadOnlySpan<char> token)
    {
        if (token.Length > MaxBase64Chars)
            token = token[..(MaxBase64Chars & ~3)];
        var padding = token.Length - token.TrimEnd('=').Length;
        var data = token[..^padding];
        if (padding > 2 || data.Length % 4 == 1 || (data.ContainsAny('+', '/') && data.ContainsAny('-', '_')))
            return null;
        // Binary shows in its first bytes: judge the first 64 characters before decoding the rest.
        if (data.Length > 64)
        {
            Span<byte> head = stackalloc byte[48];
            if (Decode(data[..64], head) < 0 || !Printable(head))
                return null;
        }
        var buffer = ArrayPool<byte>.Shared.Rent((data.Length * 3 / 4) + 3);
        try
        {
            var count = Decode(data, buffer);
            if (count < 6)
                return null;
            var bytes = buffer.AsSpan(0, count);
            return Printable(bytes) && Utf8.IsValid(bytes) ? Encoding.UTF8.GetString(bytes) : null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    static bool Printable(ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes)
        {
            if ((b < 0x20 && b is not (0x09 or 0x0A or 0x0D)) || b == 0x7F)
                return false;
        }
        return true;
    }

    /// <summary>A JWT header: base64url of a JSON object naming "alg" or "typ".</summary>
    public static bool JwtHeader(ReadOnlySpan<char> segment)
    {
        Span<byte> buffer = stackalloc byte[(segment.Length * 3 / 4) + 3];
        if (segment.Length % 4 == 1)
            return false;
        var count = Decode(segment, buffer);
        var header = buffer[..Math.Max(count, 0)];
        return header.Length > 2 && header[0] == (byte)'{' && (header.IndexOf("\"alg\""u8) >= 0 || header.IndexOf("\"typ\""u8) >= 0);
    }

    /// <summary>Decodes unpadded base64 or base64url; -1 on a character outside both alphabets.</summary>
    static int Decode(ReadOnlySpan<char> data, Span<byte> output)
    {
        var count = 0;
        var bits = 0;
        var accumulator = 0;
        foreach (var c in data)
        {
            var value = c < 128 ? Base64Values[c] : -1;
            if (value < 0)
                return -1;
            accumulator = (accumulator << 6) | value;
            bits += 6;
            if (bits >= 8)
            {
                bits -= 8;
                output[count++] = (byte)(accumulator >> bits);
                accumulator &= (1 << bits) - 1;
            }
        }
        return count;
    }
}
