using MassTransit;
using MassTransit.Context;
using MassTransit.Saga;

namespace AgentBus.Approvals.Persistence;

/// <summary>
/// What MassTransit's saga pipes (SendSagaPipe, MissingSagaPipe) call for one message. Insert is the
/// insert-on-initial path: insert if absent, and when another transaction got there first, let the
/// caller load (and wait for the lock on) the row that transaction wrote. Save is the missing-instance
/// path: a plain insert, where a concurrent creator makes this message fail and be retried.
/// </summary>
public sealed class PostgresSagaRepositoryContext<TSaga, TMessage> :
    ConsumeContextScope<TMessage>,
    SagaRepositoryContext<TSaga, TMessage>
    where TSaga : class, ISagaVersion
    where TMessage : class
{
    readonly PostgresSagaTransaction<TSaga> transaction;
    readonly ConsumeContext<TMessage> consumeContext;
    readonly ISagaConsumeContextFactory<PostgresSagaTransaction<TSaga>, TSaga> factory;

    public PostgresSagaRepositoryContext(PostgresSagaTransaction<TSaga> transaction, ConsumeContext<TMessage> consumeContext,
        ISagaConsumeContextFactory<PostgresSagaTransaction<TSaga>, TSaga> factory)
        : base(consumeContext, transaction)
    {
        this.transaction = transaction;
        this.consumeContext = consumeContext;
        this.factory = factory;
    }

    public Task<SagaConsumeContext<TSaga, TMessage>> Add(TSaga instance) =>
        factory.CreateSagaConsumeContext(transaction, consumeContext, instance, SagaConsumeContextMode.Add);

    public async Task<SagaConsumeContext<TSaga, TMessage>> Insert(TSaga instance)
    {
        if (!await transaction.InsertIfAbsentAsync(instance, CancellationToken))
            return null!;
        return await factory.CreateSagaConsumeContext(transaction, consumeContext, instance, SagaConsumeContextMode.Insert);
    }

    public async Task<SagaConsumeContext<TSaga, TMessage>> Load(Guid correlationId)
    {
        var instance = await transaction.LoadForUpdateAsync(correlationId, CancellationToken);
        if (instance is null)
            return null!;
        return await factory.CreateSagaConsumeContext(transaction, consumeContext, instance, SagaConsumeContextMode.Load);
    }

    public Task Save(SagaConsumeContext<TSaga> context) => transaction.InsertAsync(context.Saga, CancellationToken);

    public Task Update(SagaConsumeContext<TSaga> context) => transaction.UpdateAsync(context.Saga, CancellationToken);

    public Task Delete(SagaConsumeContext<TSaga> context) => transaction.DeleteAsync(context.Saga, CancellationToken);

    public Task Discard(SagaConsumeContext<TSaga> context) => Task.CompletedTask;

    public Task Undo(SagaConsumeContext<TSaga> context) => Task.CompletedTask;

    public Task<SagaConsumeContext<TSaga, T>> CreateSagaConsumeContext<T>(ConsumeContext<T> consumeContext, TSaga instance, SagaConsumeContextMode mode)
        where T : class =>
        factory.CreateSagaConsumeContext(transaction, consumeContext, instance, mode);
}
