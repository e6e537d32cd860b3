using AgentBus.Operations.Audit;
using AgentBus.Operations.DeadLetters;
using AgentBus.ServiceDefaults.Messaging;
using Microsoft.Extensions.Options;
using RabbitMQ.Client.Exceptions;

namespace AgentBus.OperatorConsole;

/// <summary>
/// Dead letters for the console, through the same inspector and replayer as `agentbus dlq`, as the
/// operator broker user; a replay is audited with the signed-in person's name.
/// </summary>
public sealed class DeadLetterDesk(OperatorBrokerEndpoint endpoint, IOptions<ConsoleOptions> options, TimeProvider clock)
{
    public async Task<IReadOnlyList<DeadLetterQueueSummary>> ListAsync(CancellationToken ct)
    {
        await using var broker = await ConnectAsync(ct);
        return await DeadLetterInspector.ListAsync(broker, options.Value.DeadLetterScanLimit, ct);
    }

    public async Task<ReplayReport> ReplayAsync(string queue, string groupId, string operatorName, bool dryRun, CancellationToken ct)
    {
        if (!DeadLetterQueues.IsDeadLetterQueue(queue))
            throw new DeadLetterException($"'{queue}' is not a dead-letter queue (its name ends in _error or _skipped).");
        await using var broker = await ConnectAsync(ct);
        return await new DeadLetterReplayer(clock).ReplayAsync(broker, queue, DeadLetterSelection.Group(groupId), operatorName,
            new ReplayOptions(DryRun: dryRun), progress: null, ct);
    }

    /// <summary>The failures that mean "the broker could not be asked", shown on the page rather than as an error page.</summary>
    public static bool IsBrokerProblem(Exception ex) =>
        ex is DeadLetterException or RabbitMQClientException or HttpRequestException or IOException or TimeoutException or UnauthorizedAccessException;

    async Task<OperatorBroker> ConnectAsync(CancellationToken ct)
    {
        var passwordFile = endpoint.Secrets.PathFor("rabbitmq", BrokerIdentity.OperatorUser);
        if (!File.Exists(passwordFile))
            throw new DeadLetterException($"No password for the {BrokerIdentity.OperatorUser} broker user at {passwordFile}: run `agentbus broker apply`.");
        var password = (await File.ReadAllTextAsync(passwordFile, ct)).Trim();
        return await OperatorBroker.ConnectAsync(new OperatorBrokerSettings(endpoint.Broker, endpoint.VirtualHost,
            new Uri(options.Value.ManagementUrl), password), ct);
    }
}
