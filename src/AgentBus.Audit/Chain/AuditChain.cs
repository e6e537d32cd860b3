using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace AgentBus.Audit.Chain;

/// <summary>
/// The audit log's hash chain. Each row's hash is SHA-256 over the previous row's hash and the
/// row's canonical content: a version tag, then every stored column (except the position and the
/// hashes) as a big-endian 32-bit byte length and its UTF-8 text, -1 for NULL. Times are Unix
/// microseconds, costs their shortest decimal text, so the bytes are exactly what PostgreSQL
/// stores and returns. The SQL function <c>audit_event_hash</c> (migration 0301) computes the
/// same value inside the database.
/// </summary>
public static class AuditChain
{
    public const string Version = "agentbus.audit.v1";
    public const int HashSize = 32;

    static readonly byte[] VersionBytes = Encoding.UTF8.GetBytes(Version);
    static readonly byte[] NullMarker = [0xFF, 0xFF, 0xFF, 0xFF];

    /// <summary>The "previous hash" of the first row.</summary>
    public static ReadOnlySpan<byte> Genesis => new byte[HashSize];

    public static byte[] Hash(ReadOnlySpan<byte> previous, AuditRecord record)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(previous);
        sha.AppendData(VersionBytes);
        Field(sha, record.EventId.ToString("D"));
        Field(sha, record.EventType);
        Field(sha, record.ActionId);
        Field(sha, record.RunId);
        Field(sha, record.AgentId);
        Field(sha, record.Tool);
        Field(sha, record.Outcome);
        Field(sha, record.ReasonCode);
        Field(sha, record.RuleId);
        Field(sha, record.PolicyVersion);
        Field(sha, record.Actor);
        Field(sha, record.CorrelationId);
        Field(sha, record.ExternalReference);
        Field(sha, record.CostUsd is { } cost ? CostText(cost) : null);
        Field(sha, record.Payload);
        Field(sha, UnixMicroseconds(record.OccurredAt).ToString(CultureInfo.InvariantCulture));
        Field(sha, UnixMicroseconds(record.RecordedAt).ToString(CultureInfo.InvariantCulture));
        return sha.GetHashAndReset();
    }

    static void Field(IncrementalHash sha, string? value)
    {
        if (value is null)
        {
            sha.AppendData(NullMarker);
            return;
        }

        var length = Encoding.UTF8.GetByteCount(value);
        var buffer = ArrayPool<byte>.Shared.Rent(length + 4);
        try
        {
            BinaryPrimitives.WriteInt32BigEndian(buffer, length);
            Encoding.UTF8.GetBytes(value, buffer.AsSpan(4));
            sha.AppendData(buffer, 0, length + 4);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>PostgreSQL keeps microseconds; anything finer would make the stored row hash differently.</summary>
    public static DateTimeOffset ToStoredPrecision(DateTimeOffset value)
    {
        var utc = value.ToUniversalTime();
        return new DateTimeOffset(utc.Ticks - utc.Ticks % 10, TimeSpan.Zero);
    }

    /// <summary>Costs are numeric(18,6): rounded as PostgreSQL rounds them on the way in.</summary>
    public static decimal ToStoredPrecision(decimal value) => Math.Round(value, 6, MidpointRounding.AwayFromZero);

    public static long UnixMicroseconds(DateTimeOffset value) => (value.UtcTicks - DateTimeOffset.UnixEpoch.Ticks) / 10;

    /// <summary>The shortest decimal text (PostgreSQL's trim_scale(x)::text): 0.010000 and 0.01 are both "0.01".</summary>
    public static string CostText(decimal value)
    {
        var text = value.ToString("0.############################", CultureInfo.InvariantCulture);
        return text == "-0" ? "0" : text;
    }

    public static string Hex(ReadOnlySpan<byte> hash) => Convert.ToHexStringLower(hash);
}

/// <summary>One audit row as stored: the hashed columns, its position and its hashes.</summary>
public sealed record AuditRecord(
    long Seq,
    Guid EventId,
    string EventType,
    string? ActionId,
    string? RunId,
    string? AgentId,
    string? Tool,
    string Outcome,
    string? ReasonCode,
    string? RuleId,
    string? PolicyVersion,
    string? Actor,
    string? CorrelationId,
    string? ExternalReference,
    decimal? CostUsd,
    string Payload,
    DateTimeOffset OccurredAt,
    DateTimeOffset RecordedAt)
{
    public byte[] PrevHash { get; init; } = [];
    public byte[] Hash { get; init; } = [];
}
