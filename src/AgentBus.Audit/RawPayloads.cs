using System.Globalization;
using Npgsql;

namespace AgentBus.Audit;

/// <summary>The raw (unredacted) payload tier: audit_raw_payloads, readable only by agentbus_raw_payloads.</summary>
public static class RawPayloads
{
    const int Chunk = 10_000;

    /// <summary>
    /// Deletes every payload past its retention, a chunk per transaction, through
    /// audit_purge_raw_payloads (which deletes expired rows and nothing else); returns how many.
    /// </summary>
    public static async Task<long> PurgeExpiredAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken = default)
    {
        long total = 0;
        while (true)
        {
            await using var command = dataSource.CreateCommand("SELECT audit_purge_raw_payloads(@chunk)");
            command.Parameters.AddWithValue("chunk", Chunk);
            var purged = Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
            total += purged;
            if (purged < Chunk)
                return total;
        }
    }
}
