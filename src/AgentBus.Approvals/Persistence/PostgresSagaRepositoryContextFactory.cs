using MassTransit;
using MassTransit.Middleware;
using MassTransit.Saga;
using Npgsql;

namespace AgentBus.Approvals.Persistence;

/// <summary>
/// Plugs PostgreSQL into MassTransit's saga repository (<see cref="SagaRepository{TSaga}"/> calls
/// <see cref="Send{T}"/> once per message): a transaction is opened, the state machine runs against the
/// locked row, and the transaction commits only when it finished without error. A failure anywhere
/// rolls everything back and the endpoint's retry policy redelivers the message. Messages the state
/// machine publishes should be held back until the commit (the endpoint's outbox), so a rolled-back
/// transition publishes nothing.
/// </summary>
public sealed class PostgresSagaRepositoryContextFactory<TSaga>(
    NpgsqlDataSource dataSource,
    PostgresSagaOptions<TSaga> options,
    ISagaConsumeContextFactory<PostgresSagaTransaction<TSaga>, TSaga> factory) :
    ISagaRepositoryContextFactory<TSaga>,
    ILoadSagaRepositoryContextFactory<TSaga>
    where TSaga : class, ISagaVersion
{
    readonly SagaSql _sql = SqlFor(options);

    public async Task Send<T>(ConsumeContext<T> context, IPipe<SagaRepositoryContext<TSaga, T>> next)
        where T : class
    {
        await using var transaction = await PostgresSagaTransaction<TSaga>.BeginAsync(dataSource, options, _sql, context.CancellationToken);
        var repositoryContext = new PostgresSagaRepositoryContext<TSaga, T>(transaction, context, factory);
        await next.Send(repositoryContext);
        await transaction.CommitAsync(context.CancellationToken);
    }

    public Task SendQuery<T>(ConsumeContext<T> context, ISagaQuery<TSaga> query, IPipe<SagaRepositoryQueryContext<TSaga, T>> next)
        where T : class =>
        throw new NotSupportedException(
            $"The PostgreSQL saga repository correlates {typeof(TSaga).Name} by id only; find the ids with SQL and send each instance its own message.");

    public async Task<T> Execute<T>(Func<LoadSagaRepositoryContext<TSaga>, Task<T>> asyncMethod, CancellationToken cancellationToken = default)
        where T : class =>
        await asyncMethod(new LoadContext(dataSource, options, _sql, cancellationToken));

    public void Probe(ProbeContext context)
    {
        context.Add("persistence", "postgresql");
        context.Add("table", options.Table);
    }

    static SagaSql SqlFor(PostgresSagaOptions<TSaga> options)
    {
        options.Validate();
        return new SagaSql(options.Table, options.Columns.Select(c => c.Name).ToList());
    }

    /// <summary>Reads an instance without locking it, outside any message (MassTransit's ILoadSagaRepository).</summary>
    sealed class LoadContext(NpgsqlDataSource dataSource, PostgresSagaOptions<TSaga> options, SagaSql sql, CancellationToken cancellationToken)
        : BasePipeContext(cancellationToken), LoadSagaRepositoryContext<TSaga>
    {
        public async Task<TSaga> Load(Guid correlationId)
        {
            await using var command = dataSource.CreateCommand(sql.Select);
            command.Parameters.AddWithValue("id", correlationId);
            await using var reader = await command.ExecuteReaderAsync(CancellationToken);
            return await reader.ReadAsync(CancellationToken) ? PostgresSagaTransaction<TSaga>.Read(reader, options) : null!;
        }
    }
}
