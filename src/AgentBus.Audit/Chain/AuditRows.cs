using Npgsql;

namespace AgentBus.Audit.Chain;

/// <summary>How audit rows are selected and read, in one place for the verifier and the queries.</summary>
public static class AuditRows
{
    public const string Columns =
        "seq, event_id, event_type, action_id, run_id, agent_id, tool, outcome, reason_code, rule_id, policy_version, " +
        "actor, correlation_id, external_reference, cost_usd, payload, occurred_at, recorded_at, prev_hash, hash";

    public static AuditRecord Read(NpgsqlDataReader reader) =>
        new(reader.GetInt64(0), reader.GetGuid(1), reader.GetString(2), Text(reader, 3), Text(reader, 4), Text(reader, 5), Text(reader, 6),
            reader.GetString(7), Text(reader, 8), Text(reader, 9), Text(reader, 10), Text(reader, 11), Text(reader, 12), Text(reader, 13),
            reader.IsDBNull(14) ? null : reader.GetDecimal(14), reader.GetString(15),
            Utc(reader.GetDateTime(16)), Utc(reader.GetDateTime(17)))
        {
            PrevHash = (byte[])reader[18],
            Hash = (byte[])reader[19],
        };

    static string? Text(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    public static DateTimeOffset Utc(DateTime value) =>
        new(DateTime.SpecifyKind(value, DateTimeKind.Utc), TimeSpan.Zero);
}
