using System.Data;
using System.Globalization;
using System.Text.Json;
using MassTransit;
using Npgsql;
using NpgsqlTypes;

namespace AgentBus.Approvals.Persistence;

/// <summary>
/// One database transaction around the handling of one message by one saga instance. The instance's
/// row is read with <c>SELECT … FOR UPDATE</c>, so a second message for the same instance waits
/// here until the first one's transaction ends and then reads what it wrote. Every update also checks
/// the version it read (a second guard, against writers that skip the lock). Disposed without
/// <see cref="CommitAsync"/>, it rolls back: nothing the state machine did is kept.
/// </summary>
public sealed class PostgresSagaTransaction<TSaga> : IAsyncDisposable
    where TSaga : class, ISagaVersion
{
    readonly NpgsqlConnection _connection;
    readonly NpgsqlTransaction _transaction;
    readonly PostgresSagaOptions<TSaga> _options;
    readonly SagaSql _sql;
    bool _done;

    PostgresSagaTransaction(NpgsqlConnection connection, NpgsqlTransaction transaction, PostgresSagaOptions<TSaga> options, SagaSql sql)
    {
        _connection = connection;
        _transaction = transaction;
        _options = options;
        _sql = sql;
    }

    internal static async Task<PostgresSagaTransaction<TSaga>> BeginAsync(NpgsqlDataSource dataSource, PostgresSagaOptions<TSaga> options,
        SagaSql sql, CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            // Read committed plus a row lock: after waiting for the lock, PostgreSQL re-reads the row
            // as the other transaction committed it, so events for one instance apply in turn.
            var transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken);
            await using (var timeout = new NpgsqlCommand(
                $"SET LOCAL lock_timeout = '{(long)options.LockTimeout.TotalMilliseconds}ms'", connection, transaction))
                await timeout.ExecuteNonQueryAsync(cancellationToken);
            return new PostgresSagaTransaction<TSaga>(connection, transaction, options, sql);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>The instance, its row locked until this transaction ends; null when there is none.</summary>
    public async Task<TSaga?> LoadForUpdateAsync(Guid correlationId, CancellationToken cancellationToken)
    {
        await using var command = Command(_sql.SelectForUpdate);
        command.Parameters.AddWithValue("id", correlationId);
        return await ReadOneAsync(command, cancellationToken);
    }

    /// <summary>Inserts the instance unless one with its id exists; false when it did (nothing written, no error).</summary>
    public async Task<bool> InsertIfAbsentAsync(TSaga instance, CancellationToken cancellationToken)
    {
        await using var command = Command(_sql.InsertIfAbsent);
        instance.Version = 1;
        Bind(command, instance);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }

    /// <summary>Inserts a new instance; another transaction that created the same one first is a concurrency conflict.</summary>
    public async Task InsertAsync(TSaga instance, CancellationToken cancellationToken)
    {
        await using var command = Command(_sql.Insert);
        instance.Version = 1;
        Bind(command, instance);
        try
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            throw new ConcurrencyException($"{typeof(TSaga).Name} {instance.CorrelationId} was created concurrently; the message will be retried.",
                typeof(TSaga), instance.CorrelationId, ex);
        }
    }

    /// <summary>Writes the instance back if its row still has the version it was read with, and moves the version on.</summary>
    public async Task UpdateAsync(TSaga instance, CancellationToken cancellationToken)
    {
        await using var command = Command(_sql.Update);
        var read = instance.Version;
        instance.Version = read + 1;
        Bind(command, instance);
        command.Parameters.AddWithValue("expected", read);
        if (await command.ExecuteNonQueryAsync(cancellationToken) != 1)
        {
            instance.Version = read;
            throw new ConcurrencyException($"{typeof(TSaga).Name} {instance.CorrelationId} changed since version {read} was read; the message will be retried.",
                typeof(TSaga), instance.CorrelationId);
        }
    }

    public async Task DeleteAsync(TSaga instance, CancellationToken cancellationToken)
    {
        await using var command = Command(_sql.Delete);
        command.Parameters.AddWithValue("id", instance.CorrelationId);
        command.Parameters.AddWithValue("expected", instance.Version);
        if (await command.ExecuteNonQueryAsync(cancellationToken) != 1)
            throw new ConcurrencyException($"{typeof(TSaga).Name} {instance.CorrelationId} changed since version {instance.Version} was read.",
                typeof(TSaga), instance.CorrelationId);
    }

    public async Task CommitAsync(CancellationToken cancellationToken)
    {
        await _transaction.CommitAsync(cancellationToken);
        _done = true;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_done)
        {
            try
            {
                await _transaction.RollbackAsync(CancellationToken.None);
            }
            catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
            {
                // The connection is broken: PostgreSQL has rolled back already.
            }
        }
        await _transaction.DisposeAsync();
        await _connection.DisposeAsync();
    }

    internal static TSaga Read(NpgsqlDataReader reader, PostgresSagaOptions<TSaga> options)
    {
        var id = reader.GetGuid(0);
        var instance = JsonSerializer.Deserialize<TSaga>(reader.GetString(2), options.Json)
            ?? throw new SagaException("The saga row holds no instance.", typeof(TSaga), id);
        instance.CorrelationId = id;
        instance.Version = reader.GetInt32(1);
        return instance;
    }

    async Task<TSaga?> ReadOneAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader, _options) : null;
    }

    NpgsqlCommand Command(string sql) => new(sql, _connection, _transaction);

    void Bind(NpgsqlCommand command, TSaga instance)
    {
        command.Parameters.AddWithValue("id", instance.CorrelationId);
        command.Parameters.AddWithValue("version", instance.Version);
        command.Parameters.Add(new NpgsqlParameter("data", NpgsqlDbType.Jsonb) { Value = JsonSerializer.Serialize(instance, _options.Json) });
        for (var i = 0; i < _options.Columns.Count; i++)
            command.Parameters.AddWithValue(SagaSql.ColumnParameter(i), ToDatabase(_options.Columns[i].Value(instance)));
    }

    static object ToDatabase(object? value) => value switch
    {
        null => DBNull.Value,
        DateTimeOffset time => time.ToUniversalTime(),
        _ => value,
    };
}

/// <summary>The statements for one saga table, built once from its options.</summary>
sealed class SagaSql
{
    public SagaSql(string table, IReadOnlyList<string> columns)
    {
        var names = string.Concat(columns.Select(c => ", " + c));
        var values = string.Concat(columns.Select((_, i) => ", @" + ColumnParameter(i)));
        var sets = string.Concat(columns.Select((c, i) => $", {c} = @{ColumnParameter(i)}"));

        SelectForUpdate = $"SELECT correlation_id, version, data::text FROM {table} WHERE correlation_id = @id FOR UPDATE";
        Select = $"SELECT correlation_id, version, data::text FROM {table} WHERE correlation_id = @id";
        Insert = $"INSERT INTO {table} (correlation_id, version, data{names}) VALUES (@id, @version, @data{values})";
        InsertIfAbsent = Insert + " ON CONFLICT (correlation_id) DO NOTHING";
        Update = $"UPDATE {table} SET version = @version, data = @data, updated_at = now(){sets} WHERE correlation_id = @id AND version = @expected";
        Delete = $"DELETE FROM {table} WHERE correlation_id = @id AND version = @expected";
    }

    public string SelectForUpdate { get; }
    public string Select { get; }
    public string Insert { get; }
    public string InsertIfAbsent { get; }
    public string Update { get; }
    public string Delete { get; }

    public static string ColumnParameter(int index) => "c" + index.ToString(CultureInfo.InvariantCulture);
}
