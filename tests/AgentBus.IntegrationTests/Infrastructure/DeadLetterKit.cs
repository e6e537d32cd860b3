using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AgentBus.Operations.Broker;
using AgentBus.Operations.DeadLetters;
using AgentBus.Contracts;
using AgentBus.ServiceDefaults.Messaging;
using RabbitMQ.Client;

namespace AgentBus.IntegrationTests.Infrastructure;

/// <summary>
/// What the dead-letter tests share: the operator's view of the fixture's broker, and dead letters
/// laid down directly (as the RabbitMQ administrator) with the headers MassTransit writes, for cases
/// that a real fault would make slow or awkward to reproduce.
/// </summary>
public sealed class DeadLetterKit(PipelineFixture fixture)
{
    public OperatorBrokerSettings Settings => new(new BrokerAddress(fixture.Servers.RabbitHost, fixture.Servers.RabbitPort), fixture.VirtualHost,
        fixture.Servers.ManagementUrl, fixture.Secrets.GetOrCreate("rabbitmq", BrokerIdentity.OperatorUser));

    public Task<OperatorBroker> ConnectAsync() => OperatorBroker.ConnectAsync(Settings, CancellationToken.None);

    /// <summary>The CLI's own arguments for this fixture's broker, database and secrets.</summary>
    public string[] CliArguments(params string[] command) =>
    [
        "dlq", .. command,
        "--rabbitmq-host", fixture.Servers.RabbitHost,
        "--rabbitmq-port", fixture.Servers.RabbitPort.ToString(CultureInfo.InvariantCulture),
        "--management-url", fixture.Servers.ManagementUrl.ToString(),
        "--vhost", fixture.VirtualHost,
        "--secrets-dir", fixture.Secrets.Directory,
    ];

    public async Task<int> RunCliAsync(params string[] arguments)
    {
        var root = new System.CommandLine.RootCommand { AgentBus.Cli.Commands.DlqCommands.Create() };
        return await root.Parse(arguments).InvokeAsync();
    }

    /// <summary>
    /// Messages ready in a queue, exactly and now (the management API's count lags by seconds);
    /// a queue that does not exist holds none.
    /// </summary>
    /// <summary>
    /// Until the queue holds <paramref name="expected"/> messages ready. Messages a session read and gave
    /// back return to a quorum queue through its log, a moment after the session closed, not at once.
    /// </summary>
    public Task DepthSettlesAtAsync(string queue, uint expected) =>
        Eventually.Get(() => DepthAsync(queue), depth => depth == expected, $"{expected} message(s) ready in {queue}", TimeSpan.FromSeconds(15));

    public async Task<uint> DepthAsync(string queue)
    {
        await using var connection = await AdminFactory().CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        try
        {
            return (await channel.QueueDeclarePassiveAsync(queue)).MessageCount;
        }
        catch (RabbitMQ.Client.Exceptions.OperationInterruptedException ex) when (ex.ShutdownReason?.ReplyCode == 404)
        {
            return 0;
        }
    }

    ConnectionFactory AdminFactory() => new()
    {
        HostName = fixture.Servers.RabbitHost,
        Port = fixture.Servers.RabbitPort,
        VirtualHost = fixture.VirtualHost,
        UserName = fixture.Servers.AdminUser,
        Password = fixture.Servers.AdminPassword,
    };

    public async Task DeclareQueueAsync(string queue)
    {
        using var http = fixture.AdminHttp();
        (await http.PutAsync($"api/queues/{Uri.EscapeDataString(fixture.VirtualHost)}/{Uri.EscapeDataString(queue)}",
            JsonContent.Create(new { durable = true, arguments = new Dictionary<string, object> { ["x-queue-type"] = "quorum" } }))).EnsureSuccessStatusCode();
    }

    /// <summary>Puts one message into a dead-letter queue as MassTransit's error transport would have.</summary>
    public async Task<string> SeedAsync(string deadLetterQueue, object message, string exceptionType = "System.InvalidOperationException",
        string exceptionMessage = "It broke.", string? inputQueue = null, DateTimeOffset? faultedAt = null, string? messageId = null,
        string? originalSender = null, bool skipped = false)
    {
        await DeclareQueueAsync(deadLetterQueue);
        var id = messageId ?? Guid.NewGuid().ToString();
        var source = inputQueue ?? DeadLetterQueues.SourceQueue(deadLetterQueue);
        var headers = new Dictionary<string, object?>
        {
            ["MT-MessageType"] = "urn:message:AgentBus.Contracts:" + message.GetType().Name,
            ["MT-Reason"] = skipped ? "dead-letter" : "fault",
        };
        if (!skipped)
        {
            headers["MT-Fault-ExceptionType"] = exceptionType;
            headers["MT-Fault-Message"] = exceptionMessage;
            headers["MT-Fault-InputAddress"] = $"rabbitmq://{fixture.Servers.RabbitHost}/{fixture.VirtualHost}/{source}";
            headers["MT-Fault-Timestamp"] = (faultedAt ?? DateTimeOffset.UtcNow).UtcDateTime.ToString("O", CultureInfo.InvariantCulture);
            headers["MT-Fault-ConsumerType"] = "AgentBus.Projections.Audit.AuditProjection";
            headers["MT-Fault-RetryCount"] = 5;
        }
        // What the error transport keeps of an outcome's sender: the executors of the tool it names.
        originalSender ??= message switch
        {
            ActionSucceeded succeeded => BrokerUsers.Executor(succeeded.Tool),
            ActionFailed failed => BrokerUsers.Executor(failed.Tool),
            _ => null,
        };
        if (originalSender is not null)
            headers[BrokerIdentity.OriginalUserIdHeader] = originalSender;

        var properties = new BasicProperties
        {
            ContentType = WireNames.ContentType,
            DeliveryMode = DeliveryModes.Persistent,
            MessageId = id,
            Type = message.GetType().Name,
            Headers = headers,
        };
        await using var connection = await AdminFactory().CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        await channel.BasicPublishAsync("", deadLetterQueue, true, properties,
            JsonSerializer.SerializeToUtf8Bytes(message, message.GetType(), WireJson.Options));
        return id;
    }

    public async Task ExecuteSqlAsync(string sql)
    {
        await using var connection = new Npgsql.NpgsqlConnection(fixture.ConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    public static ActionSucceeded Succeeded(string agent = "support-bot", string runId = "run-dlq", string tool = "ticketing") =>
        new(Guid.CreateVersion7().ToString(), runId, agent, tool, JsonSerializer.SerializeToElement(new { ok = true }), "REF-1", 0.002m, 12, 1,
            DateTimeOffset.UtcNow);

    public static string Text(object? header) => header is byte[] bytes ? Encoding.UTF8.GetString(bytes) : header?.ToString() ?? "";
}
