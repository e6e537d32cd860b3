using MassTransit;
using MassTransit.Configuration;
using MassTransit.Saga;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AgentBus.Approvals.Persistence;

public static class PostgresSagaRepositoryExtensions
{
    /// <summary>
    /// Stores this saga in PostgreSQL through the service's NpgsqlDataSource: one row per instance,
    /// locked while a message is handled, version-checked on update. The table must exist (a migration).
    /// </summary>
    public static ISagaRegistrationConfigurator<TSaga> PostgresRepository<TSaga>(this ISagaRegistrationConfigurator<TSaga> configurator,
        Action<PostgresSagaOptions<TSaga>> configure)
        where TSaga : class, ISagaVersion
    {
        var options = new PostgresSagaOptions<TSaga>();
        configure(options);
        options.Validate();

        configurator.Repository(repository =>
        {
            repository.TryAddSingleton(options);
            repository.RegisterLoadSagaRepository<TSaga, PostgresSagaRepositoryContextFactory<TSaga>>();
            repository.RegisterSagaRepository<TSaga, PostgresSagaTransaction<TSaga>,
                SagaConsumeContextFactory<PostgresSagaTransaction<TSaga>, TSaga>, PostgresSagaRepositoryContextFactory<TSaga>>();
        });
        return configurator;
    }
}
