using System.Data;
using Npgsql;

namespace AgentBus.Audit.Chain;

public enum ChainProblemKind
{
    /// <summary>A row's content no longer matches its hash, or it was replaced and re-hashed.</summary>
    Edited,

    /// <summary>Rows are missing: a gap in the positions, a lost predecessor, or a short tail.</summary>
    Deleted,

    /// <summary>A row is chained to a row that now sits elsewhere in the log.</summary>
    Reordered,

    /// <summary>
    /// The chain holds together but a row's hash is not the one anchored outside the database: rows up to it
    /// were changed and the chain recomputed after the anchor was taken (only the owner or a superuser can).
    /// </summary>
    Rewritten,
}

public sealed record ChainProblem(ChainProblemKind Kind, long Seq, Guid? EventId, string? EventType, string Detail);

/// <summary>
/// What <c>agentbus audit verify</c> found. <see cref="Problems"/> is sorted by position; the
/// first one is the first row that was edited, deleted or reordered.
/// </summary>
public sealed record AuditVerification(long RowsChecked, long HeadSeq, string HeadHash, IReadOnlyList<ChainProblem> Problems, int ProblemsFound,
    int AnchorsChecked = 0)
{
    public bool Intact => ProblemsFound == 0;

    public ChainProblem? First => Problems.Count > 0 ? Problems[0] : null;
}

/// <summary>
/// Recomputes the whole chain from the stored rows, in one snapshot, and names what does not fit;
/// with anchors (heads copied out of the database earlier, <see cref="AuditAnchors"/>), also checks
/// that each anchored row still has the anchored hash, which catches a chain rewritten and recomputed
/// as a whole. Needs only SELECT on audit_events and audit_chain_head.
/// </summary>
public static class AuditVerifier
{
    public static Task<AuditVerification> VerifyAsync(NpgsqlDataSource dataSource, int maxProblems = 20, CancellationToken cancellationToken = default) =>
        VerifyAsync(dataSource, [], maxProblems, cancellationToken);

    public static async Task<AuditVerification> VerifyAsync(NpgsqlDataSource dataSource, IReadOnlyList<AuditAnchor> anchors, int maxProblems = 20,
        CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // One snapshot for the head and every row: a writer committing meanwhile is either wholly in or wholly out.
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);

        (long Seq, byte[] Hash)? head = null;
        await using (var command = new NpgsqlCommand("SELECT last_seq, last_hash FROM audit_chain_head WHERE id = 1", connection, transaction))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            if (await reader.ReadAsync(cancellationToken))
                head = (reader.GetInt64(0), (byte[])reader[1]);

        var scan = new Scan(maxProblems, anchors);
        await using (var command = new NpgsqlCommand($"SELECT {AuditRows.Columns} FROM audit_events ORDER BY seq", connection, transaction))
        await using (var reader = await command.ExecuteReaderAsync(CommandBehavior.SequentialAccess, cancellationToken))
            while (await reader.ReadAsync(cancellationToken))
                scan.Next(AuditRows.Read(reader));

        await scan.FinishAsync(head, connection, transaction, cancellationToken);
        await transaction.CommitAsync(cancellationToken);

        var problems = scan.Problems.OrderBy(p => p.Seq).ThenBy(p => p.Kind).Take(maxProblems).ToList();
        return new AuditVerification(scan.Rows, head?.Seq ?? 0, AuditChain.Hex(head?.Hash ?? AuditChain.Genesis.ToArray()), problems, scan.Found,
            anchors.Count);
    }

    sealed class Scan(int maxProblems, IReadOnlyList<AuditAnchor> anchors)
    {
        readonly ILookup<long, AuditAnchor> _anchors = anchors.ToLookup(a => a.Seq);
        readonly List<AuditRecord> _brokenLinks = [];
        long _lastMatchedAnchor;
        long _expected = 1;
        byte[] _previous = AuditChain.Genesis.ToArray();
        AuditRecord? _last;

        public List<ChainProblem> Problems { get; } = [];
        public int Found { get; private set; }
        public long Rows { get; private set; }

        public void Next(AuditRecord row)
        {
            Rows++;
            var gap = row.Seq != _expected;
            if (gap)
                Add(new(ChainProblemKind.Deleted, _expected, null, null, row.Seq - _expected == 1
                    ? $"row #{_expected} is missing (the log jumps from #{_expected - 1} to #{row.Seq})"
                    : $"rows #{_expected}–#{row.Seq - 1} are missing (the log jumps from #{_expected - 1} to #{row.Seq})"));

            if (!AuditChain.Hash(row.PrevHash, row).AsSpan().SequenceEqual(row.Hash))
                Add(new(ChainProblemKind.Edited, row.Seq, row.EventId, row.EventType,
                    $"row #{row.Seq} no longer matches its hash: a column was changed after it was written"));
            else if (!gap && !row.PrevHash.AsSpan().SequenceEqual(_previous))
            {
                if (_brokenLinks.Count < maxProblems)
                    _brokenLinks.Add(row);
                else
                    Add(new(ChainProblemKind.Reordered, row.Seq, row.EventId, row.EventType,
                        $"row #{row.Seq} is not chained to row #{row.Seq - 1}"));
            }

            foreach (var anchor in _anchors[row.Seq])
                CheckAnchor(anchor, row.Hash, row);

            _previous = row.Hash;
            _expected = row.Seq + 1;
            _last = row;
        }

        void CheckAnchor(AuditAnchor anchor, byte[] hash, AuditRecord? row)
        {
            if (anchor.Hash.AsSpan().SequenceEqual(hash))
            {
                _lastMatchedAnchor = Math.Max(_lastMatchedAnchor, anchor.Seq);
                return;
            }
            var from = _lastMatchedAnchor + 1;
            Add(new(ChainProblemKind.Rewritten, anchor.Seq, row?.EventId, row?.EventType,
                $"row #{anchor.Seq} no longer has the hash anchored at {anchor.At.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z ({anchor.HashHex[..16]}…): " +
                (from == anchor.Seq ? $"row #{anchor.Seq}" : $"rows #{from}–#{anchor.Seq}") +
                " were changed after it was taken and the chain recomputed to hide it" +
                (_lastMatchedAnchor > 0 ? $" (the anchor of row #{_lastMatchedAnchor} still matches)" : "")));
        }

        /// <summary>Rows are scanned in order, so the first problems kept are the first in the log; the rest are only counted.</summary>
        void Add(ChainProblem problem)
        {
            Found++;
            if (Problems.Count < maxProblems * 4)
                Problems.Add(problem);
        }

        public async Task FinishAsync((long Seq, byte[] Hash)? head, NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken ct)
        {
            var lastSeq = _last?.Seq ?? 0;
            foreach (var anchor in _anchors[0])
                CheckAnchor(anchor, AuditChain.Genesis.ToArray(), null);
            if (anchors.Where(a => a.Seq > lastSeq).MaxBy(a => a.Seq) is { } beyond)
                Add(new(ChainProblemKind.Deleted, lastSeq + 1, null, null,
                    $"row #{beyond.Seq} was anchored at {beyond.At.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z but the log ends at #{lastSeq}: " +
                    (beyond.Seq == lastSeq + 1 ? $"row #{beyond.Seq} is gone" : $"rows #{lastSeq + 1}–#{beyond.Seq} are gone")));
            if (head is null)
            {
                if (Rows > 0)
                    Add(new(ChainProblemKind.Deleted, lastSeq, _last?.EventId, _last?.EventType,
                        "the chain head (audit_chain_head) is gone, so rows missing at the end cannot be ruled out"));
            }
            else if (head.Value.Seq > lastSeq)
                Add(new(ChainProblemKind.Deleted, lastSeq + 1, null, null, head.Value.Seq - lastSeq == 1
                    ? $"row #{lastSeq + 1} is missing at the end (the chain head says the log ends at #{head.Value.Seq})"
                    : $"rows #{lastSeq + 1}–#{head.Value.Seq} are missing at the end (the chain head says the log ends at #{head.Value.Seq})"));
            else if (head.Value.Seq < lastSeq)
                Add(new(ChainProblemKind.Edited, head.Value.Seq + 1, null, null,
                    $"rows #{head.Value.Seq + 1}–#{lastSeq} are beyond the chain head (#{head.Value.Seq}): they were not written by the audit writer"));
            else if (_last is not null && !head.Value.Hash.AsSpan().SequenceEqual(_last.Hash))
                Add(new(ChainProblemKind.Edited, _last.Seq, _last.EventId, _last.EventType,
                    $"the chain head names row #{_last.Seq} with another row's hash: the head was rewound after rows past #{_last.Seq} were removed, or row #{_last.Seq} was replaced"));

            if (_brokenLinks.Count == 0)
                return;

            // Where does each broken link point? A row that is still in the log means the order
            // changed; a predecessor that is gone means a deletion (fewer rows than the head
            // counts) or a replaced and re-hashed row.
            var positions = new Dictionary<string, (long Seq, Guid EventId)>();
            await using (var command = new NpgsqlCommand("SELECT hash, seq, event_id FROM audit_events WHERE hash = ANY(@hashes)", connection, transaction))
            {
                command.Parameters.AddWithValue("hashes", _brokenLinks.Select(r => r.PrevHash).ToArray());
                await using var reader = await command.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                    positions[AuditChain.Hex((byte[])reader[0])] = (reader.GetInt64(1), reader.GetGuid(2));
            }

            var rowsLost = head is { } h && h.Seq > Rows;
            foreach (var row in _brokenLinks)
            {
                if (positions.TryGetValue(AuditChain.Hex(row.PrevHash), out var predecessor))
                    Add(new(ChainProblemKind.Reordered, row.Seq, row.EventId, row.EventType,
                        $"row #{row.Seq} was written right after the row now at #{predecessor.Seq} (event {predecessor.EventId}), not after #{row.Seq - 1}"));
                else if (rowsLost || row.Seq == 1)
                    Add(new(ChainProblemKind.Deleted, row.Seq, row.EventId, row.EventType,
                        $"the row written before #{row.Seq} is gone and the positions were renumbered to hide the gap"));
                else
                    Add(new(ChainProblemKind.Edited, row.Seq - 1, null, null,
                        $"row #{row.Seq - 1} was replaced or re-hashed: row #{row.Seq} was chained to a different row"));
            }
        }
    }
}
