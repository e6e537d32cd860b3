using System.Buffers;
using System.Text;
using System.Text.Json;

namespace AgentBus.DataBoundaries;

/// <summary>
/// The state of one classification: where in the document it is, what it found, how much it may
/// still read. Detectors report a class and the span it covers in the text being scanned; the span
/// never leaves this class (it decides the split rule and keeps one detector from reporting inside
/// another's match, e.g. an e-mail inside a URL's credentials).
/// </summary>
sealed partial class Inspection(ClassifierOptions options)
{
    internal ClassifierOptions Options => options;

    /// <summary>A value longer than this is not a fragment of a split value.</summary>
    internal const int MaxFragmentChars = 64;
    internal const int MaxFragments = 8;

    readonly List<DataFinding> _findings = [];

    // Per finding: the most matches one scan of one text found, and this scan's count. Counted per scan,
    // not summed, so a value found as written and again URL-decoded counts once.
    readonly List<int> _occurrences = [];
    readonly List<int> _hitsThisScan = [];
    readonly List<Segment> _path = [];
    readonly List<(int Start, int End)> _covered = [];
    readonly List<string> _decoded = [];
    long _remaining = options.MaxInspectedChars;
    string? _truncation;

    // Where the text being scanned sits.
    string? _pointer;
    bool _inName;
    string? _encoding;
    int[]? _fragmentEnds;
    int _fragmentCount;
    List<string>? _fragmentTexts;
    int _fragmentStart;

    readonly record struct Segment(string? Name, int Index);

    public DataClassification Result()
    {
        var findings = new DataFinding[_findings.Count];
        for (var i = 0; i < findings.Length; i++)
            findings[i] = _occurrences[i] == 1 ? _findings[i] : _findings[i] with { Occurrences = _occurrences[i] };
        return new(findings, _truncation);
    }

    public void Walk(JsonElement element) => Walk(element, 0);

    /// <summary>Inspects <paramref name="element"/>; returns the text of a string or number (for the split rule), else null.</summary>
    string? Walk(JsonElement element, int depth)
    {
        if (_truncation is not null)
            return null;
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                var text = ReadString(element);
                ScanValue(text, inPropertyName: false);
                return text;
            case JsonValueKind.Number:
                var raw = element.GetRawText();
                if (raw.Length >= 8)
                    ScanValue(raw, inPropertyName: false);
                return raw;
            case JsonValueKind.Object:
                if (depth >= options.MaxDepth)
                {
                    Truncate(DataClassification.MaxDepth);
                    return null;
                }
                var members = new Fragments();
                foreach (var property in element.EnumerateObject())
                {
                    var name = ReadName(property);
                    _path.Add(new Segment(name, 0));
                    _pointer = null;
                    if (options.PropertyNames)
                        ScanValue(name, inPropertyName: true);
                    var memberText = Walk(property.Value, depth + 1);
                    _path.RemoveAt(_path.Count - 1);
                    _pointer = null;
                    members.Add(this, memberText);
                    if (_truncation is not null)
                        return null;
                }
                _pointer = null;
                members.Flush(this);
                break;
            case JsonValueKind.Array:
                if (depth >= options.MaxDepth)
                {
                    Truncate(DataClassification.MaxDepth);
                    return null;
                }
                var items = new Fragments();
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    _path.Add(new Segment(null, index++));
                    _pointer = null;
                    var itemText = Walk(item, depth + 1);
                    _path.RemoveAt(_path.Count - 1);
                    _pointer = null;
                    items.Add(this, itemText);
                    if (_truncation is not null)
                        return null;
                }
                _pointer = null;
                items.Flush(this);
                break;
        }
        return null;
    }

    /// <summary>A string with a lone surrogate escape, or bytes that are not UTF-8, cannot be read as a string; its raw JSON text is scanned instead.</summary>
    static string ReadString(JsonElement element)
    {
        try
        {
            return element.GetString() ?? "";
        }
        catch (InvalidOperationException)
        {
            // Its raw text read leniently: GetRawText would throw again on bytes that are not UTF-8.
            var raw = Encoding.UTF8.GetString(System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(element));
            return raw.Length >= 2 ? raw[1..^1] : raw;
        }
    }

    /// <summary>A name with a lone surrogate escape is read as its raw (escaped) JSON text.</summary>
    static string ReadName(JsonProperty property)
    {
        try
        {
            return property.Name;
        }
        catch (InvalidOperationException)
        {
            return Encoding.UTF8.GetString(System.Runtime.InteropServices.JsonMarshal.GetRawUtf8PropertyName(property));
        }
    }

    /// <summary>
    /// Runs of adjacent short strings and numbers in one container, scanned together in windows of up to
    /// eight. Text with a lower-case word next to a space (prose) ends a run: no format claimed for split
    /// values has one.
    /// </summary>
    struct Fragments
    {
        List<string>? _texts;

        public void Add(Inspection inspection, string? text)
        {
            if (!inspection.Options.JoinSplitValues)
                return;
            if (text is { Length: > 0 and <= MaxFragmentChars } && !IsProse(text))
            {
                (_texts ??= []).Add(text);
                return;
            }
            Flush(inspection);
        }

        static bool IsProse(string text)
        {
            var space = text.IndexOf(' ');
            while (space >= 0)
            {
                if ((space > 0 && char.IsAsciiLetterLower(text[space - 1])) || (space + 1 < text.Length && char.IsAsciiLetterLower(text[space + 1])))
                    return true;
                space = text.IndexOf(' ', space + 1);
            }
            return false;
        }

        public void Flush(Inspection inspection)
        {
            if (_texts is { Count: >= 2 })
            {
                for (var start = 0; start < _texts.Count - 1; start += MaxFragments / 2)
                {
                    inspection.ScanJoined(_texts, start, Math.Min(MaxFragments, _texts.Count - start));
                    if (start + MaxFragments >= _texts.Count)
                        break;
                }
            }
            _texts?.Clear();
        }
    }

    void ScanJoined(List<string> texts, int start, int count)
    {
        var length = 0;
        for (var i = start; i < start + count; i++)
            length += texts[i].Length;
        var buffer = ArrayPool<char>.Shared.Rent(length);
        var ends = ArrayPool<int>.Shared.Rent(count);
        try
        {
            var at = 0;
            for (var i = 0; i < count; i++)
            {
                texts[start + i].CopyTo(buffer.AsSpan(at));
                at += texts[start + i].Length;
                ends[i] = at;
            }
            _fragmentEnds = ends;
            _fragmentCount = count;
            _fragmentTexts = texts;
            _fragmentStart = start;
            _inName = false;
            Scan(buffer.AsSpan(0, length), DataEncodings.Split, decode: false);
        }
        finally
        {
            _fragmentEnds = null;
            _fragmentCount = 0;
            _fragmentTexts = null;
            ArrayPool<int>.Shared.Return(ends);
            ArrayPool<char>.Shared.Return(buffer);
        }
    }

    public void ScanValue(ReadOnlySpan<char> text, bool inPropertyName)
    {
        _inName = inPropertyName;
        Scan(text, encoding: null, decode: true);
    }

    /// <summary>One text, as written or decoded: every detector once, then (as written only) its decoded forms.</summary>
    void Scan(ReadOnlySpan<char> text, string? encoding, bool decode)
    {
        if (_truncation is not null || text.IsEmpty)
            return;
        if (text.Length > _remaining)
        {
            text = text[..(int)Math.Max(0, _remaining)];
            Truncate(DataClassification.MaxInspectedChars);
        }
        _remaining -= text.Length;
        _encoding = encoding;
        _covered.Clear();

        Detectors.Secrets(this, text);
        Detectors.Emails(this, text);
        Detectors.Numbers(this, text);
        // Only text as written collects decoded base64 (decoded text is not decoded again), so one list serves every call.
        var decoded = decode && options.DecodeBase64 ? _decoded : null;
        decoded?.Clear();
        Detectors.Tokens(this, text, decoded);
        CloseScan();

        if (!decode)
            return;
        if (decoded is not null)
        {
            foreach (var text64 in decoded)
                Scan(text64, DataEncodings.Base64, decode: false);
            decoded.Clear();
        }
        if (options.DecodeUrl && Decoders.HasPercentEscape(text))
        {
            var url = Decoders.PercentDecode(text);
            if (url is not null)
                Scan(url, DataEncodings.Url, decode: false);
        }
    }

    void CloseScan()
    {
        for (var i = 0; i < _hitsThisScan.Count; i++)
        {
            if (_hitsThisScan[i] > _occurrences[i])
                _occurrences[i] = _hitsThisScan[i];
            _hitsThisScan[i] = 0;
        }
    }

    internal void Truncate(string reason) => _truncation ??= reason;

    /// <summary>Characters a decoder may still produce.</summary>
    internal long Remaining => _remaining;

    internal bool IsCovered(int position)
    {
        foreach (var (start, end) in _covered)
        {
            if (position >= start && position < end)
                return true;
        }
        return false;
    }

    internal bool Overlaps(int from, int to)
    {
        foreach (var (start, end) in _covered)
        {
            if (from < end && to > start)
                return true;
        }
        return false;
    }

    /// <summary>A detector found <paramref name="dataClass"/> in [start, end) of the text being scanned.</summary>
    internal void Report(string dataClass, int start, int end)
    {
        _covered.Add((start, end));
        if (_truncation is not null)
            return;
        if (_fragmentEnds is not null && !WholeFragments(dataClass, start, end))
            return;
        var pointer = _pointer ??= BuildPointer();
        for (var i = 0; i < _findings.Count; i++)
        {
            var finding = _findings[i];
            if (finding.Class == dataClass && finding.InPropertyName == _inName && finding.Pointer == pointer)
            {
                _hitsThisScan[i]++;
                return;
            }
        }
        if (_findings.Count >= options.MaxFindings)
        {
            Truncate(DataClassification.MaxFindings);
            return;
        }
        _findings.Add(new DataFinding(dataClass, pointer, _encoding, _inName));
        _occurrences.Add(0);
        _hitsThisScan.Add(1);
    }

    /// <summary>
    /// A split finding is made of whole fragments, at least two: a match that starts or ends inside a
    /// fragment is two unrelated values glued together (ORD-1001 and git@host: would read as an address).
    /// Random-looking tokens and URLs with a password are never split findings: any two adjacent ids
    /// (ORD-73544 and e255243d83b7) glue into a random-looking token.
    /// </summary>
    bool WholeFragments(string dataClass, int start, int end)
    {
        if (dataClass is DataClasses.HighEntropy or DataClasses.PasswordInUrl)
            return false;
        var first = -1;
        var last = -1;
        var previousEnd = 0;
        for (var i = 0; i < _fragmentCount; i++)
        {
            var fragmentEnd = _fragmentEnds![i];
            if (previousEnd == start)
                first = i;
            if (fragmentEnd == end)
                last = i;
            previousEnd = fragmentEnd;
        }
        if (first < 0 || last <= first)
            return false;
        // A value recognisable alone, glued to its neighbours, is that value again ("high" + "ada@example.com"
        // reads as one address): it was found at its own pointer, and counting it twice breaks a max.
        for (var i = first; i <= last; i++)
        {
            if (DataClassifier.Classify(_fragmentTexts![_fragmentStart + i], AloneOptions).Contains(dataClass))
                return false;
        }
        return true;
    }

    static readonly ClassifierOptions AloneOptions = new() { DecodeBase64 = false, DecodeUrl = false, JoinSplitValues = false, PropertyNames = false };

    string BuildPointer()
    {
        if (_path.Count == 0)
            return "";
        var builder = new StringBuilder();
        foreach (var segment in _path)
        {
            builder.Append('/');
            if (segment.Name is null)
                builder.Append(segment.Index);
            else
                builder.Append(segment.Name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal));
        }
        return builder.ToString();
    }
}
