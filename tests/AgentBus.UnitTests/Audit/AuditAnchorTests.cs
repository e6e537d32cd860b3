using AgentBus.Audit.Chain;

namespace AgentBus.UnitTests.Audit;

public class AuditAnchorTests
{
    static readonly byte[] Hash = Enumerable.Range(0, AuditChain.HashSize).Select(i => (byte)(i * 7)).ToArray();

    [Fact]
    public void An_anchor_line_reads_back_as_written_and_comments_are_skipped()
    {
        var anchor = new AuditAnchor(93, Hash, new DateTimeOffset(2026, 12, 3, 7, 6, 17, 50, TimeSpan.Zero));
        var line = AuditAnchors.Format(anchor);
        Assert.Equal($"93 {AuditChain.Hex(Hash)} 2026-12-03T07:06:17.050000Z", line);

        var read = Assert.Single(AuditAnchors.Parse($"# header\n\n{line}\r\n", "anchors"));
        Assert.Equal((anchor.Seq, anchor.HashHex, anchor.At), (read.Seq, read.HashHex, read.At));
    }

    [Fact]
    public void Appending_creates_the_file_with_a_header_and_adds_one_line_per_anchor()
    {
        var file = Path.Combine(Directory.CreateTempSubdirectory("anchors-").FullName, "audit", "anchors");
        try
        {
            AuditAnchors.Append(file, new AuditAnchor(5, Hash, DateTimeOffset.UnixEpoch));
            AuditAnchors.Append(file, new AuditAnchor(10, Hash, DateTimeOffset.UnixEpoch));
            Assert.Equal([5L, 10L], AuditAnchors.Read(file).Select(a => a.Seq));
            Assert.StartsWith("# agentbus audit anchors", File.ReadAllText(file));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(Path.GetDirectoryName(file))!, recursive: true);
        }
    }

    [Theory]
    [InlineData("5 abc 2026-01-01T00:00:00Z")]
    [InlineData("-1 0000000000000000000000000000000000000000000000000000000000000000 2026-01-01T00:00:00Z")]
    [InlineData("5 0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("5 zz00000000000000000000000000000000000000000000000000000000000000 2026-01-01T00:00:00Z")]
    [InlineData("5 0000000000000000000000000000000000000000000000000000000000000000 yesterday")]
    public void A_malformed_line_is_refused_with_its_file_and_line_number(string line)
    {
        var error = Assert.Throws<AuditAnchorFormatException>(() => AuditAnchors.Parse($"# header\n{line}\n", "anchors"));
        Assert.StartsWith("anchors:2:", error.Message);
    }
}
