using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;
using System.Text.Json;
using AgentBus.Audit.Chain;
using AgentBus.Audit.Redaction;
using AgentBus.Contracts;
using AgentBus.DataBoundaries;
using AgentBus.ServiceDefaults.Database;
using AgentBus.ServiceDefaults.Messaging;
using AgentBus.ServiceDefaults.Telemetry;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace AgentBus.Projections.Audit;

/// <summary>
/// Appends events to the hash-chained audit log, in batches. One transaction per batch: lock the
/// chain head (the one row every writer, in every projections instance, must hold to append),
/// drop events already recorded (so a redelivered event never becomes a second row), number and
/// hash the rest in order, COPY them in with their raw payloads, update the run summaries and move
/// the head. Redaction happens before the lock, so concurrent batches only queue for the COPY (except
/// for the commands the policy service kept, which can only be taken inside the transaction). Within
/// one process the batches waiting for their turn are written together (group commit): one writer
/// drains them all into one transaction, so under load transactions grow instead of queueing, and a
/// waiting batch holds no connection.
/// </summary>
public sealed class AuditStore(NpgsqlDataSource dataSource, AuditRedactor redactor, IOptions<AuditOptions> options, TimeProvider clock,
    ILogger<AuditStore> logger)
{
    static readonly Counter<long> Recorded = AgentBusTelemetry.Meter.CreateCounter<long>("agentbus.audit.events",
        description: "Audit events appended to the chain");
    static readonly Counter<long> Duplicates = AgentBusTelemetry.Meter.CreateCounter<long>("agentbus.audit.duplicates",
        description: "Redelivered audit events dropped because they were already recorded");
    static readonly Histogram<double> BatchDuration = AgentBusTelemetry.Meter.CreateHistogram<double>("agentbus.audit.batch.duration",
        unit: "ms", description: "Time to append one batch, lock to commit");

    const string InsertEvents =
        "COPY audit_events (seq, event_id, event_type, action_id, run_id, agent_id, tool, outcome, reason_code, rule_id, policy_version, " +
        "actor, correlation_id, external_reference, cost_usd, payload, occurred_at, recorded_at, prev_hash, hash) FROM STDIN (FORMAT BINARY)";

    const string InsertRaw = "COPY audit_raw_payloads (event_id, seq, payload, recorded_at, expires_at) FROM STDIN (FORMAT BINARY)";

    const string UpsertRuns = """
        INSERT INTO run_summaries AS r (run_id, agent_id, first_event_at, last_event_at, actions_allowed, actions_denied, actions_pending,
            actions_succeeded, actions_failed, cost_usd, actions_proposed, actions_authorized, actions_outcome_unknown,
            completed_at, succeeded, completion_summary)
        SELECT * FROM unnest(@run_ids, @agent_ids, @first_at, @last_at, @allowed, @denied, @pending, @succeeded, @failed, @cost,
            @proposed, @authorized, @unknown, @completed_at, @run_succeeded, @summaries)
        ON CONFLICT (run_id, agent_id) DO UPDATE SET
            first_event_at          = LEAST(r.first_event_at, EXCLUDED.first_event_at),
            last_event_at           = GREATEST(r.last_event_at, EXCLUDED.last_event_at),
            actions_allowed         = r.actions_allowed         + EXCLUDED.actions_allowed,
            actions_denied          = r.actions_denied          + EXCLUDED.actions_denied,
            actions_pending         = r.actions_pending         + EXCLUDED.actions_pending,
            actions_succeeded       = r.actions_succeeded       + EXCLUDED.actions_succeeded,
            actions_failed          = r.actions_failed          + EXCLUDED.actions_failed,
            cost_usd                = r.cost_usd                + EXCLUDED.cost_usd,
            actions_proposed        = r.actions_proposed        + EXCLUDED.actions_proposed,
            actions_authorized      = r.actions_authorized      + EXCLUDED.actions_authorized,
            actions_outcome_unknown = r.actions_outcome_unknown + EXCLUDED.actions_outcome_unknown,
            completed_at            = COALESCE(r.completed_at, EXCLUDED.completed_at),
            succeeded               = CASE WHEN r.completed_at IS NULL THEN EXCLUDED.succeeded ELSE r.succeeded END,
            completion_summary      = CASE WHEN r.completed_at IS NULL THEN EXCLUDED.completion_summary ELSE r.completion_summary END
        """;

    /// <summary>Most events one group-commit transaction takes (whole batches; a larger batch still goes alone).</summary>
    const int MaxGroupEvents = 5_000;

    readonly AuditOptions _options = options.Value;

    // Appends take turns on the chain head anyway. Batches wait here instead, without a connection,
    // and one writer at a time takes every waiting batch into its next transaction. If one batch's
    // value is refused, each is written alone, so only that one's caller has to deal with it.
    GroupCommit<IReadOnlyList<Prepared>, int>? _writer;

    GroupCommit<IReadOnlyList<Prepared>, int> Writer => LazyInitializer.EnsureInitialized(ref _writer, () => new("audit",
        batches => WriteInTurnAsync(batches, CancellationToken.None), MaxGroupEvents, logger)
    {
        Weight = batch => batch.Count,
        RetryAlone = failure => failure is PostgresException refused && IsDataError(refused),
    });

    /// <summary>Records one event; false when it was already recorded.</summary>
    public async Task<bool> RecordAsync(AuditEntry entry, CancellationToken cancellationToken) =>
        await AppendAsync([entry], cancellationToken) == 1;

    /// <summary>Records a batch in one transaction; returns how many events were new.</summary>
    public async Task<int> AppendAsync(IReadOnlyList<AuditEntry> entries, CancellationToken cancellationToken)
    {
        var prepared = Prepare(entries);
        if (prepared.Count == 0)
            return 0;
        try
        {
            return await WriteAsync(prepared, cancellationToken);
        }
        catch (PostgresException ex) when (IsDataError(ex))
        {
            // Sanitizing should make every value storable; if one still is not, write the others
            // and record that one as unrecordable (with its original bytes) instead of losing it.
            logger.LogError(ex, "An audit batch of {Count} events was refused by PostgreSQL ({SqlState}); writing them one by one",
                prepared.Count, ex.SqlState);
            var written = 0;
            foreach (var row in prepared)
            {
                try
                {
                    written += await WriteAsync([row], cancellationToken);
                }
                catch (PostgresException single) when (IsDataError(single))
                {
                    logger.LogError(single, "Audit event {EventId} ({EventType}) cannot be stored as it is; recording it as unrecordable",
                        row.EventId, row.EventType);
                    written += await WriteAsync([Unrecordable(row, single)], cancellationToken);
                }
            }
            return written;
        }
    }

    static bool IsDataError(PostgresException ex) => ex.SqlState.StartsWith("22", StringComparison.Ordinal);

    List<Prepared> Prepare(IReadOnlyList<AuditEntry> entries)
    {
        var seen = new HashSet<Guid>();
        var prepared = new List<Prepared>(entries.Count);
        foreach (var entry in entries)
        {
            if (!seen.Add(entry.EventId))
                continue;
            var tool = AuditText.Identifier(entry.Tool);
            var redacted = redactor.Redact(entry.Payload, tool);
            // The raw tier keeps what redaction took out, but never what the data classifier found.
            var raw = entry.RawPayload is { } unreadable
                ? WithoutClassifiedData(unreadable)
                : redacted.Changed ? Encoding.UTF8.GetBytes(redacted.Unredacted) : null;
            prepared.Add(new Prepared(
                entry.EventId,
                AuditText.Identifier(entry.EventType) ?? "Unknown",
                AuditText.Identifier(entry.ActionId),
                AuditText.Identifier(entry.RunId),
                AuditText.Identifier(entry.AgentId),
                tool,
                AuditText.Identifier(entry.Outcome) ?? "unknown",
                AuditText.Identifier(entry.ReasonCode),
                AuditText.Identifier(entry.RuleId),
                AuditText.Identifier(entry.PolicyVersion),
                AuditText.Identifier(entry.Actor),
                AuditText.Identifier(entry.CorrelationId),
                AuditText.Identifier(entry.ExternalReference),
                entry.CostUsd is { } cost ? AuditChain.ToStoredPrecision(cost) : null,
                redacted.Json,
                raw,
                AuditChain.ToStoredPrecision(entry.OccurredAt),
                entry.Change with { CostUsd = AuditChain.ToStoredPrecision(entry.Change.CostUsd) },
                entry.AffectsRun,
                entry.Settles));
        }
        return prepared;
    }

    /// <summary>
    /// Bytes that could not be read as a message (not JSON, not UTF-8, refused before the policy read them)
    /// cannot be masked in place: when the classifier finds anything in their text, or cannot read all of
    /// it, a description replaces them.
    /// </summary>
    internal static byte[] WithoutClassifiedData(byte[] raw)
    {
        var classification = ClassifyUnreadable(raw);
        if (classification.Complete && classification.Findings.Count == 0)
            return raw;
        return JsonSerializer.SerializeToUtf8Bytes(new
        {
            withheld = "The bytes carried data the classifier finds (or could not be read to the end); AgentBus keeps no copy of them.",
            classes = classification.Findings.Select(f => f.Class).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray(),
            truncation = classification.Truncation,
            bytes = raw.Length,
        });
    }

    /// <summary>
    /// As a document when it is one (a proposal refused for an unknown field still parses, and only its
    /// structure shows a value split across fields), else as text with JSON's escapes read, so that an
    /// escaped newline does not glue a value to the letter n.
    /// </summary>
    static DataClassification ClassifyUnreadable(byte[] raw)
    {
        try
        {
            using var document = JsonDocument.Parse(raw, new JsonDocumentOptions { MaxDepth = 256 });
            return DataClassifier.Classify(document.RootElement);
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException)
        {
            var text = Encoding.UTF8.GetString(raw);
            var unescaped = text.Replace("\\n", " ", StringComparison.Ordinal).Replace("\\r", " ", StringComparison.Ordinal)
                .Replace("\\t", " ", StringComparison.Ordinal).Replace("\\\"", "\"", StringComparison.Ordinal).Replace("\\/", "/", StringComparison.Ordinal);
            var asText = DataClassifier.Classify(unescaped);
            return asText.Findings.Count > 0 || !asText.Complete ? asText : DataClassifier.Classify(text);
        }
    }

    static Prepared Unrecordable(Prepared row, PostgresException error) => row with
    {
        ActionId = null, RunId = null, AgentId = null, Tool = null, ReasonCode = "unrecordable", RuleId = null, PolicyVersion = null,
        Actor = null, CorrelationId = null, ExternalReference = null, CostUsd = null,
        Payload = JsonSerializer.Serialize(new { unrecordable = $"PostgreSQL refused this event ({error.SqlState}): {error.MessageText}" }),
        Raw = row.Raw ?? Encoding.UTF8.GetBytes(row.Payload),
        Change = new RunChange(),
        AffectsRun = false,
        // The budget is still settled; jsonb refuses only the NUL escape a stored outcome could carry.
        Settles = row.Settles is { } settles ? settles with { Payload = settles.Payload.Replace("\\u0000", "", StringComparison.Ordinal) } : null,
    };

    /// <summary>Queues the batch for the writer and waits until it is committed.</summary>
    Task<int> WriteAsync(IReadOnlyList<Prepared> batch, CancellationToken ct) => Writer.CommitAsync(batch, ct);

    /// <summary>
    /// Records the commands the policy service authorized more than Audit:AuthorizationSweepAfter ago
    /// that no outcome has brought in yet (an executor down, a long queue); returns how many events
    /// that wrote. An empty batch is the writer's sign to sweep, in its turn on the chain.
    /// </summary>
    public Task<int> SweepAuthorizationsAsync(CancellationToken ct) => Writer.CommitAsync([], ct);

    /// <summary>Most commands one sweep takes; a longer backlog takes several.</summary>
    internal const int SweepLimit = 1_000;

    /// <summary>Appends several batches in one transaction, in order; returns how many events of each were new.</summary>
    async Task<int[]> WriteInTurnAsync(IReadOnlyList<IReadOnlyList<Prepared>> batches, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);

        var (lastSeq, lastHash) = await LockHeadAsync(connection, transaction, ct);
        var sweep = batches.Any(b => b.Count == 0);
        var authorizations = await TakeAuthorizationsAsync(connection, transaction, batches.SelectMany(b => b), sweep, ct);

        var already = await RecordedAsync(connection, transaction,
            authorizations.Concat(batches.SelectMany(b => b)).Select(p => p.EventId).Distinct().ToArray(), ct);
        // An event in two waiting batches (a redelivery racing its first delivery) is new only the first time.
        var taken = new HashSet<Guid>(already);
        var written = new int[batches.Count];
        var fresh = new List<Prepared>();
        var total = 0;
        // An action's authorization goes in before its start and outcome; a sweep counts what it wrote.
        foreach (var row in authorizations)
        {
            total++;
            if (!taken.Add(row.EventId))
                continue;
            fresh.Add(row);
            for (var i = 0; i < batches.Count; i++)
                if (batches[i].Count == 0)
                    written[i]++;
        }
        for (var i = 0; i < batches.Count; i++)
            foreach (var row in batches[i])
            {
                total++;
                if (!taken.Add(row.EventId))
                    continue;
                fresh.Add(row);
                written[i]++;
            }
        if (total > fresh.Count)
            Duplicates.Add(total - fresh.Count);
        if (fresh.Count == 0)
        {
            await transaction.CommitAsync(ct);
            return written;
        }

        var recordedAt = AuditChain.ToStoredPrecision(clock.GetUtcNow());
        var rows = new List<(Prepared Row, AuditRecord Record)>(fresh.Count);
        foreach (var p in fresh)
        {
            var record = new AuditRecord(++lastSeq, p.EventId, p.EventType, p.ActionId, p.RunId, p.AgentId, p.Tool, p.Outcome, p.ReasonCode,
                p.RuleId, p.PolicyVersion, p.Actor, p.CorrelationId, p.ExternalReference, p.CostUsd, p.Payload, p.OccurredAt, recordedAt)
            {
                PrevHash = lastHash,
            };
            lastHash = AuditChain.Hash(lastHash, record);
            rows.Add((p, record with { Hash = lastHash }));
        }

        await CopyEventsAsync(connection, rows, ct);
        await CopyRawAsync(connection, rows, recordedAt, ct);
        await UpsertRunsAsync(connection, transaction, fresh, ct);
        await SettleAsync(connection, transaction, fresh, recordedAt, ct);

        await using (var advance = new NpgsqlCommand(
            "UPDATE audit_chain_head SET last_seq = @seq, last_hash = @hash, updated_at = now() WHERE id = 1", connection, transaction))
        {
            advance.Parameters.AddWithValue("seq", lastSeq);
            advance.Parameters.AddWithValue("hash", lastHash);
            await advance.ExecuteNonQueryAsync(ct);
        }

        await transaction.CommitAsync(ct);
        Recorded.Add(fresh.Count);
        BatchDuration.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        return written;
    }

    /// <summary>
    /// The commands the policy service kept for the actions whose outcomes this transaction records
    /// (and, for a sweep, those that waited too long for one), as the audit rows their copy on the
    /// broker used to become: the decision of an action allowed at once, then the authorization, under
    /// the command's message id. Taking them deletes them (policy_take_authorizations, migration 0780),
    /// so they are written once, and only if this transaction commits.
    /// </summary>
    async Task<IReadOnlyList<Prepared>> TakeAuthorizationsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction,
        IEnumerable<Prepared> rows, bool sweep, CancellationToken ct)
    {
        var actionIds = rows.Where(r => r.Settles is not null).Select(r => r.Settles!.ActionId).Distinct().ToArray();
        if (actionIds.Length == 0 && !sweep)
            return [];
        await using var command = new NpgsqlCommand(
            "SELECT message_id, correlation_id, command FROM policy_take_authorizations(@action_ids, @older_than, @limit)", connection, transaction);
        command.Parameters.AddWithValue("action_ids", actionIds);
        command.Parameters.Add(new NpgsqlParameter("older_than", NpgsqlDbType.TimestampTz)
        {
            Value = sweep ? clock.GetUtcNow() - _options.AuthorizationSweepAfter : DBNull.Value,
        });
        command.Parameters.AddWithValue("limit", SweepLimit);
        var entries = new List<AuditEntry>();
        await using (var reader = await command.ExecuteReaderAsync(ct))
            while (await reader.ReadAsync(ct))
                entries.AddRange(AuthorizationEntries(reader.GetGuid(0), reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetString(2)));
        return Prepare(entries);
    }

    IEnumerable<AuditEntry> AuthorizationEntries(Guid messageId, string? correlationId, string json)
    {
        ExecuteTool? command = null;
        try
        {
            command = JsonSerializer.Deserialize<ExecuteTool>(json, WireJson.Options);
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException or ArgumentException)
        {
            logger.LogError(ex, "The command kept for the audit under {MessageId} cannot be read; recording it as unrecordable", messageId);
        }
        // The policy service wrote it, so this should never happen; if it does the bytes are kept and the outcome still goes in.
        if (command is null)
            return [new AuditEntry(messageId, nameof(ExecuteTool), null, null, null, null, "authorized", "unrecordable",
                JsonSerializer.Serialize(new { unrecordable = "The command the policy service kept for the audit could not be read." }),
                clock.GetUtcNow(), new RunChange())
            {
                Actor = Actors.Policy,
                RawPayload = Encoding.UTF8.GetBytes(json),
                AffectsRun = false,
            }];
        return AuditEntry.WithDecision(messageId, command).Select(e => e.CorrelatedTo(correlationId));
    }

    /// <summary>Takes the chain head's row lock: every writer of every instance appends in turn.</summary>
    static async Task<(long Seq, byte[] Hash)> LockHeadAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            await using (var select = new NpgsqlCommand("SELECT last_seq, last_hash FROM audit_chain_head WHERE id = 1 FOR UPDATE", connection, transaction))
            await using (var reader = await select.ExecuteReaderAsync(ct))
                if (await reader.ReadAsync(ct))
                    return (reader.GetInt64(0), (byte[])reader[1]);

            if (attempt > 0)
                throw new InvalidOperationException("The audit chain head (audit_chain_head) could not be created.");

            // The head row is created by migration 0301 and can only go with a break-glass TRUNCATE.
            // An empty log may start a new chain; a log with rows but no head is a tampered log.
            await using var create = new NpgsqlCommand("""
                INSERT INTO audit_chain_head (id, last_seq, last_hash)
                SELECT 1, 0, @genesis WHERE NOT EXISTS (SELECT FROM audit_events)
                ON CONFLICT (id) DO NOTHING
                """, connection, transaction);
            create.Parameters.AddWithValue("genesis", AuditChain.Genesis.ToArray());
            if (await create.ExecuteNonQueryAsync(ct) == 0)
            {
                await using var check = new NpgsqlCommand("SELECT EXISTS (SELECT FROM audit_chain_head)", connection, transaction);
                if (await check.ExecuteScalarAsync(ct) is not true)
                    throw new InvalidOperationException(
                        "The audit chain head (audit_chain_head) is missing but audit_events has rows: the log was tampered with. " +
                        "Nothing is appended until an operator runs `agentbus audit verify` and restores the head (docs/audit.md).");
            }
        }
    }

    static async Task<HashSet<Guid>> RecordedAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid[] ids, CancellationToken ct)
    {
        var found = new HashSet<Guid>();
        await using var command = new NpgsqlCommand("SELECT event_id FROM audit_events WHERE event_id = ANY(@ids)", connection, transaction);
        command.Parameters.AddWithValue("ids", ids);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            found.Add(reader.GetGuid(0));
        return found;
    }

    static async Task CopyEventsAsync(NpgsqlConnection connection, List<(Prepared Row, AuditRecord Record)> rows, CancellationToken ct)
    {
        await using var copy = await connection.BeginBinaryImportAsync(InsertEvents, ct);
        foreach (var (_, r) in rows)
        {
            await copy.StartRowAsync(ct);
            await copy.WriteAsync(r.Seq, NpgsqlDbType.Bigint, ct);
            await copy.WriteAsync(r.EventId, NpgsqlDbType.Uuid, ct);
            await copy.WriteAsync(r.EventType, NpgsqlDbType.Text, ct);
            await Text(copy, r.ActionId, ct);
            await Text(copy, r.RunId, ct);
            await Text(copy, r.AgentId, ct);
            await Text(copy, r.Tool, ct);
            await copy.WriteAsync(r.Outcome, NpgsqlDbType.Text, ct);
            await Text(copy, r.ReasonCode, ct);
            await Text(copy, r.RuleId, ct);
            await Text(copy, r.PolicyVersion, ct);
            await Text(copy, r.Actor, ct);
            await Text(copy, r.CorrelationId, ct);
            await Text(copy, r.ExternalReference, ct);
            if (r.CostUsd is { } cost)
                await copy.WriteAsync(cost, NpgsqlDbType.Numeric, ct);
            else
                await copy.WriteNullAsync(ct);
            await copy.WriteAsync(r.Payload, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(r.OccurredAt.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
            await copy.WriteAsync(r.RecordedAt.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
            await copy.WriteAsync(r.PrevHash, NpgsqlDbType.Bytea, ct);
            await copy.WriteAsync(r.Hash, NpgsqlDbType.Bytea, ct);
        }
        await copy.CompleteAsync(ct);
    }

    async Task CopyRawAsync(NpgsqlConnection connection, List<(Prepared Row, AuditRecord Record)> rows, DateTimeOffset recordedAt, CancellationToken ct)
    {
        if (!rows.Any(r => r.Row.Raw is not null))
            return;
        var expires = recordedAt + _options.RawPayloadRetention;
        await using var copy = await connection.BeginBinaryImportAsync(InsertRaw, ct);
        foreach (var (row, record) in rows)
        {
            if (row.Raw is null)
                continue;
            await copy.StartRowAsync(ct);
            await copy.WriteAsync(record.EventId, NpgsqlDbType.Uuid, ct);
            await copy.WriteAsync(record.Seq, NpgsqlDbType.Bigint, ct);
            await copy.WriteAsync(row.Raw, NpgsqlDbType.Bytea, ct);
            await copy.WriteAsync(recordedAt.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
            await copy.WriteAsync(expires.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
        }
        await copy.CompleteAsync(ct);
    }

    static async Task UpsertRunsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyList<Prepared> rows, CancellationToken ct)
    {
        // One row per run and agent: ON CONFLICT may not touch the same row twice in one statement.
        var runs = rows.Where(r => r.AffectsRun && r.RunId is not null && r.AgentId is not null)
            .GroupBy(r => (r.RunId!, r.AgentId!))
            .Select(g =>
            {
                var changes = g.Select(r => r.Change).ToList();
                var completion = g.Select(r => r.Change.Completion).FirstOrDefault(c => c is not null);
                return new
                {
                    Run = g.Key.Item1,
                    Agent = g.Key.Item2,
                    First = g.Min(r => r.OccurredAt),
                    Last = g.Max(r => r.OccurredAt),
                    Allowed = changes.Sum(c => c.Allowed),
                    Denied = changes.Sum(c => c.Denied),
                    Pending = changes.Sum(c => c.Pending),
                    Succeeded = changes.Sum(c => c.Succeeded),
                    Failed = changes.Sum(c => c.Failed),
                    Cost = changes.Sum(c => c.CostUsd),
                    Proposed = changes.Sum(c => c.Proposed),
                    Authorized = changes.Sum(c => c.Authorized),
                    Unknown = changes.Sum(c => c.OutcomeUnknown),
                    Completion = completion,
                };
            }).ToList();
        if (runs.Count == 0)
            return;

        await using var command = new NpgsqlCommand(UpsertRuns, connection, transaction);
        command.Parameters.AddWithValue("run_ids", runs.Select(r => r.Run).ToArray());
        command.Parameters.AddWithValue("agent_ids", runs.Select(r => r.Agent).ToArray());
        command.Parameters.AddWithValue("first_at", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz, runs.Select(r => r.First.UtcDateTime).ToArray());
        command.Parameters.AddWithValue("last_at", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz, runs.Select(r => r.Last.UtcDateTime).ToArray());
        command.Parameters.AddWithValue("allowed", runs.Select(r => r.Allowed).ToArray());
        command.Parameters.AddWithValue("denied", runs.Select(r => r.Denied).ToArray());
        command.Parameters.AddWithValue("pending", runs.Select(r => r.Pending).ToArray());
        command.Parameters.AddWithValue("succeeded", runs.Select(r => r.Succeeded).ToArray());
        command.Parameters.AddWithValue("failed", runs.Select(r => r.Failed).ToArray());
        command.Parameters.AddWithValue("cost", NpgsqlDbType.Array | NpgsqlDbType.Numeric, runs.Select(r => r.Cost).ToArray());
        command.Parameters.AddWithValue("proposed", runs.Select(r => r.Proposed).ToArray());
        command.Parameters.AddWithValue("authorized", runs.Select(r => r.Authorized).ToArray());
        command.Parameters.AddWithValue("unknown", runs.Select(r => r.Unknown).ToArray());
        command.Parameters.AddWithValue("completed_at", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz,
            runs.Select(r => r.Completion?.At.UtcDateTime).ToArray());
        command.Parameters.AddWithValue("run_succeeded", NpgsqlDbType.Array | NpgsqlDbType.Boolean,
            runs.Select(r => r.Completion?.Succeeded).ToArray());
        command.Parameters.AddWithValue("summaries", NpgsqlDbType.Array | NpgsqlDbType.Text,
            runs.Select(r => r.Completion?.Summary is { } summary ? AuditText.Clean(summary) : null).ToArray());
        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// Settles the budgets of the outcomes this transaction records, all in one call: an outcome is
    /// settled exactly when it is first recorded, so a redelivery settles nothing twice and a failed
    /// write settles nothing at all.
    /// </summary>
    static async Task SettleAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyList<Prepared> rows,
        DateTimeOffset now, CancellationToken ct)
    {
        var settlements = rows.Where(r => r.Settles is not null).Select(r => r.Settles!).ToList();
        if (settlements.Count == 0)
            return;
        await using var command = new NpgsqlCommand(
            "SELECT policy_settle_outcomes(@action_ids, @tools, @outcomes, @types, @payloads, @costs, @now)", connection, transaction);
        command.Parameters.AddWithValue("action_ids", settlements.Select(s => s.ActionId).ToArray());
        command.Parameters.AddWithValue("tools", settlements.Select(s => s.Tool).ToArray());
        command.Parameters.AddWithValue("outcomes", settlements.Select(s => s.Outcome).ToArray());
        command.Parameters.AddWithValue("types", settlements.Select(s => s.OutcomeType).ToArray());
        command.Parameters.AddWithValue("payloads", NpgsqlDbType.Array | NpgsqlDbType.Text, settlements.Select(s => s.Payload).ToArray());
        command.Parameters.AddWithValue("costs", NpgsqlDbType.Array | NpgsqlDbType.Text,
            settlements.Select(s => s.CostUsd?.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
        command.Parameters.AddWithValue("now", NpgsqlDbType.TimestampTz, now.UtcDateTime);
        await command.ExecuteNonQueryAsync(ct);
    }

    static Task Text(NpgsqlBinaryImporter copy, string? value, CancellationToken ct) =>
        value is null ? copy.WriteNullAsync(ct) : copy.WriteAsync(value, NpgsqlDbType.Text, ct);

    sealed record Prepared(
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
        byte[]? Raw,
        DateTimeOffset OccurredAt,
        RunChange Change,
        bool AffectsRun,
        OutcomeSettlement? Settles = null);
}
