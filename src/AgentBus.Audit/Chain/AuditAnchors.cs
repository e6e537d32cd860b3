using System.Globalization;
using System.Text;

namespace AgentBus.Audit.Chain;

/// <summary>One chain head as it was at <see cref="At"/>: row <see cref="Seq"/> had hash <see cref="Hash"/>.</summary>
public sealed record AuditAnchor(long Seq, byte[] Hash, DateTimeOffset At)
{
    public string HashHex => AuditChain.Hex(Hash);
}

public sealed class AuditAnchorFormatException(string message) : Exception(message);

/// <summary>
/// The anchor file: heads of the chain copied out of the database (<c>agentbus audit anchor --out FILE</c>),
/// one line each, <c>&lt;seq&gt; &lt;sha-256 hex&gt; &lt;UTC time, ISO 8601&gt;</c>; lines starting with # are
/// comments. Whoever can rewrite the database (its owner, a superuser) can recompute the whole chain and
/// its head, so only a copy they cannot reach tells the recomputed chain from the one that was written.
/// </summary>
public static class AuditAnchors
{
    const string Header = "# agentbus audit anchors: <seq> <sha-256 of row seq, hex> <UTC time>, one line per anchored chain head.\n" +
                          "# `agentbus audit verify --anchor FILE` checks each. Keep copies where the database's administrators cannot write.\n";

    public static string Format(AuditAnchor anchor) =>
        $"{anchor.Seq.ToString(CultureInfo.InvariantCulture)} {anchor.HashHex} {anchor.At.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture)}";

    public static IReadOnlyList<AuditAnchor> Parse(string text, string source)
    {
        var anchors = new List<AuditAnchor>();
        var number = 0;
        foreach (var raw in text.Split('\n'))
        {
            number++;
            var line = raw.Trim().TrimStart('\uFEFF');
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            var fields = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length != 3
                || !long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out var seq) || seq < 0
                || fields[1].Length != AuditChain.HashSize * 2 || !TryHex(fields[1], out var hash)
                || !DateTimeOffset.TryParse(fields[2], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at))
                throw new AuditAnchorFormatException($"{source}:{number}: expected '<seq> <64 hex digits> <UTC time>', found '{Cut(line)}'.");
            anchors.Add(new(seq, hash, at));
        }
        return anchors;
    }

    public static IReadOnlyList<AuditAnchor> Read(string path) => Parse(File.ReadAllText(path), path);

    /// <summary>Adds one line (the file is created with a header when missing); returns the line.</summary>
    public static string Append(string path, AuditAnchor anchor)
    {
        var line = Format(anchor);
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null)
            Directory.CreateDirectory(folder);
        using var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        var text = (stream.Length == 0 ? Header : "") + line + "\n";
        stream.Write(Encoding.ASCII.GetBytes(text));
        stream.Flush(flushToDisk: true);
        return line;
    }

    static bool TryHex(string text, out byte[] bytes)
    {
        try
        {
            bytes = Convert.FromHexString(text);
            return true;
        }
        catch (FormatException)
        {
            bytes = [];
            return false;
        }
    }

    static string Cut(string line) => line.Length <= 120 ? line : line[..117] + "...";
}
