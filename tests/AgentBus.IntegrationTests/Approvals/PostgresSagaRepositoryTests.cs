using AgentBus.Approvals.Persistence;
using AgentBus.Operations.Broker;
using AgentBus.IntegrationTests.Infrastructure;
using AgentBus.ServiceDefaults.Database;
using AgentBus.ServiceDefaults.Messaging;
using Dapper;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace AgentBus.IntegrationTests.Approvals;

public sealed class CounterSaga : SagaStateMachineInstance, ISagaVersion
{
    public Guid CorrelationId { get; set; }
    public int Version { get; set; }
    public string? CurrentState { get; set; }
    public int Count { get; set; }
    public List<int> Seen { get; set; } = [];
}

public sealed record CounterIncremented(Guid CounterId, int N);

public sealed record CounterBroken(Guid CounterId);

/// <summary>A saga whose every event must be applied exactly once, in turn: a count of the numbers it was sent.</summary>
public sealed class CounterStateMachine : MassTransitStateMachine<CounterSaga>
{
    public CounterStateMachine()
    {
        InstanceState(x => x.CurrentState);
        // No insert-on-initial: concurrent first events race to insert, and the losers are retried.
        Event(() => Incremented, e => e.CorrelateById(c => c.Message.CounterId));
        Event(() => Broken, e => { e.CorrelateById(c => c.Message.CounterId); e.OnMissingInstance(m => m.Discard()); });

        Initially(When(Incremented).ThenAsync(AddAsync).TransitionTo(Counting));
        During(Counting,
            When(Incremented).ThenAsync(AddAsync),
            When(Broken).Then(c =>
            {
                c.Saga.Count = -1;
                throw new InvalidOperationException("This handler always fails after changing the instance.");
            }));
    }

    public State Counting { get; private set; } = null!;
    public Event<CounterIncremented> Incremented { get; private set; } = null!;
    public Event<CounterBroken> Broken { get; private set; } = null!;

    static async Task AddAsync(BehaviorContext<CounterSaga, CounterIncremented> context)
    {
        var before = context.Saga.Count;
        await Task.Delay(5);   // widens the window a lost update would need
        context.Saga.Count = before + 1;
        context.Saga.Seen.Add(context.Message.N);
    }
}

public sealed class CounterDefinition : SagaDefinition<CounterSaga>
{
    public const string Queue = "agentbus.approvals.test-counter";

    public CounterDefinition()
    {
        EndpointName = Queue;
        ConcurrentMessageLimit = 8;
    }

    protected override void ConfigureSaga(IReceiveEndpointConfigurator endpoint, ISagaConfigurator<CounterSaga> saga, IRegistrationContext context)
    {
        endpoint.ConfigureConsumeTopology = false;
        endpoint.UseInMemoryOutbox(context);
    }
}

/// <summary>The PostgreSQL saga repository on its own: a test saga on the real broker and database.</summary>
[Collection(ApprovalsCollection.Name)]
public sealed class PostgresSagaRepositoryTests(ApprovalsFixture fixture) : IAsyncLifetime
{
    const string Table = "test_counter_sagas";

    static void Configure(PostgresSagaOptions<CounterSaga> options)
    {
        options.Table = Table;
        options.Json = WireJson.Options;
        options.LockTimeout = TimeSpan.FromSeconds(5);
        options.Column("current_state", s => s.CurrentState).Column("count", s => s.Count);
    }

    public async Task InitializeAsync()
    {
        await fixture.QueryAsync<int>($"""
            CREATE TABLE IF NOT EXISTS {Table} (correlation_id uuid PRIMARY KEY, version integer NOT NULL, data jsonb NOT NULL,
                current_state text, count integer, created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
            SELECT 1
            """);
        await fixture.ResetAsync();
    }

    public Task DisposeAsync() => Task.CompletedTask;

    Task<WebApplication> StartCounterHostAsync() =>
        fixture.StartHostAsync(BrokerTopology.ApprovalsUser, [], b =>
        {
            b.Services.AddHealthChecks();
            b.AddAgentBusDatabase();
            b.AddAgentBusMessaging(BrokerTopology.ApprovalsUser, bus =>
                bus.AddSagaStateMachine<CounterStateMachine, CounterSaga>(typeof(CounterDefinition)).PostgresRepository<CounterSaga>(Configure));
        }, new() { ["RabbitMq:PublishTimeout"] = "00:00:10" });

    static async Task SendAsync(WebApplication host, object message)
    {
        var endpoint = await host.Services.GetRequiredService<IBus>().GetSendEndpoint(new Uri($"exchange:{CounterDefinition.Queue}"));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await endpoint.Send(message, timeout.Token);
    }

    async Task<(int Version, int Count, int[] Seen)> RowAsync(Guid id)
    {
        var rows = await fixture.QueryAsync<(int, int, string)>(
            $"SELECT version, count, (data->'seen')::text FROM {Table} WHERE correlation_id = @Id", new { Id = id });
        if (rows.Count == 0)
            return (0, 0, []);
        var (version, count, seen) = rows[0];
        return (version, count, System.Text.Json.JsonSerializer.Deserialize<int[]>(seen)!);
    }

    [Fact]
    public async Task Concurrent_events_for_one_instance_are_each_applied_once_in_turn()
    {
        var host = await StartCounterHostAsync();
        var id = Guid.NewGuid();

        // Twenty events at once for an instance that does not exist yet: the first to insert wins, the
        // others fail on the primary key and are retried, then serialise on the row lock.
        await Task.WhenAll(Enumerable.Range(1, 20).Select(n => SendAsync(host, new CounterIncremented(id, n))));

        var row = await Eventually.Get(() => RowAsync(id), r => r.Count == 20, "twenty increments");
        Assert.Equal(Enumerable.Range(1, 20), row.Seen.Order());
        Assert.Equal(20, row.Version);
        Assert.Equal(0, await fixture.QueueDepthAsync(CounterDefinition.Queue + "_error"));
        await fixture.StopHostAsync(host);
    }

    [Fact]
    public async Task A_second_transaction_waits_for_the_row_lock_and_then_sees_the_first_ones_write()
    {
        var options = new PostgresSagaOptions<CounterSaga>();
        Configure(options);
        var sql = new SagaSql(options.Table, options.Columns.Select(c => c.Name).ToList());
        await using var dataSource = NpgsqlDataSource.Create(fixture.ConnectionString);
        var id = Guid.NewGuid();

        await using (var create = await PostgresSagaTransaction<CounterSaga>.BeginAsync(dataSource, options, sql, CancellationToken.None))
        {
            Assert.True(await create.InsertIfAbsentAsync(new CounterSaga { CorrelationId = id, CurrentState = "Counting" }, CancellationToken.None));
            await create.CommitAsync(CancellationToken.None);
        }

        await using var first = await PostgresSagaTransaction<CounterSaga>.BeginAsync(dataSource, options, sql, CancellationToken.None);
        var mine = (await first.LoadForUpdateAsync(id, CancellationToken.None))!;

        await using var second = await PostgresSagaTransaction<CounterSaga>.BeginAsync(dataSource, options, sql, CancellationToken.None);
        var waiting = second.LoadForUpdateAsync(id, CancellationToken.None);
        await Task.Delay(500);
        Assert.False(waiting.IsCompleted, "the second load must wait for the first transaction's row lock");

        mine.Count = 41;
        await first.UpdateAsync(mine, CancellationToken.None);
        await first.CommitAsync(CancellationToken.None);

        var theirs = (await waiting)!;
        Assert.Equal(41, theirs.Count);
        Assert.Equal(2, theirs.Version);
        // An insert-if-absent of an existing instance writes nothing and raises nothing.
        Assert.False(await second.InsertIfAbsentAsync(new CounterSaga { CorrelationId = id }, CancellationToken.None));
    }

    [Fact]
    public async Task An_update_from_a_stale_version_is_a_concurrency_conflict_and_changes_nothing()
    {
        var options = new PostgresSagaOptions<CounterSaga>();
        Configure(options);
        var sql = new SagaSql(options.Table, options.Columns.Select(c => c.Name).ToList());
        await using var dataSource = NpgsqlDataSource.Create(fixture.ConnectionString);
        var id = Guid.NewGuid();
        await using (var create = await PostgresSagaTransaction<CounterSaga>.BeginAsync(dataSource, options, sql, CancellationToken.None))
        {
            await create.InsertAsync(new CounterSaga { CorrelationId = id, Count = 1 }, CancellationToken.None);
            await create.CommitAsync(CancellationToken.None);
        }
        // Someone writes without taking the lock (a bug, or a tool): the version moves on.
        await fixture.QueryAsync<int>($"UPDATE {Table} SET version = version + 1, count = 7 WHERE correlation_id = @Id RETURNING 1", new { Id = id });

        await using var stale = await PostgresSagaTransaction<CounterSaga>.BeginAsync(dataSource, options, sql, CancellationToken.None);
        var conflict = await Assert.ThrowsAsync<ConcurrencyException>(() =>
            stale.UpdateAsync(new CounterSaga { CorrelationId = id, Version = 1, Count = 2 }, CancellationToken.None));
        Assert.Contains("version 1", conflict.Message);
        await using var again = await PostgresSagaTransaction<CounterSaga>.BeginAsync(dataSource, options, sql, CancellationToken.None);
        await Assert.ThrowsAsync<ConcurrencyException>(() => again.InsertAsync(new CounterSaga { CorrelationId = id }, CancellationToken.None));

        Assert.Equal((2, 7), ((await RowAsync(id)).Version, (await RowAsync(id)).Count));
    }

    [Fact]
    public async Task A_failing_handler_leaves_the_row_as_it_was_and_state_survives_a_restart()
    {
        var host = await StartCounterHostAsync();
        var id = Guid.NewGuid();
        for (var n = 1; n <= 3; n++)
            await SendAsync(host, new CounterIncremented(id, n));
        await Eventually.Get(() => RowAsync(id), r => r.Count == 3, "three increments");

        await SendAsync(host, new CounterBroken(id));
        await Eventually.True(async () => await fixture.QueueDepthAsync(CounterDefinition.Queue + "_error") == 1, "the broken message in the error queue");
        Assert.Equal((3, 3), ((await RowAsync(id)).Version, (await RowAsync(id)).Count));

        await fixture.StopHostAsync(host);
        host = await StartCounterHostAsync();
        await SendAsync(host, new CounterIncremented(id, 4));
        var row = await Eventually.Get(() => RowAsync(id), r => r.Count == 4, "the increment after the restart");
        Assert.Equal([1, 2, 3, 4], row.Seen.Order());
        await fixture.StopHostAsync(host);
    }
}
