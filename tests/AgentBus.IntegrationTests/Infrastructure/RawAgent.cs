using System.Text;
using System.Text.Json;
using AgentBus.Contracts;
using RabbitMQ.Client;

namespace AgentBus.IntegrationTests.Infrastructure;

/// <summary>
/// An agent that speaks bare AMQP, for sending what our client never would: broken bodies, wrong
/// identities, odd properties. Replies are read straight from the agent's queue.
/// </summary>
public sealed class RawAgent : IAsyncDisposable
{
    readonly IConnection _connection;
    readonly IChannel _channel;

    RawAgent(string agentId, IConnection connection, IChannel channel)
    {
        AgentId = agentId;
        _connection = connection;
        _channel = channel;
    }

    public string AgentId { get; }

    public static async Task<RawAgent> ConnectAsync(PipelineFixture fixture, string agentId)
    {
        var connection = await fixture.ConnectionFactoryFor(agentId).CreateConnectionAsync();
        var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        return new RawAgent(agentId, connection, channel);
    }

    /// <summary>Publishes a body as-is; returns the AMQP message id the reply will carry as correlation id.</summary>
    public async Task<string> PublishAsync(byte[] body, string? userId = "", string contentType = WireNames.ContentType,
        IDictionary<string, object?>? headers = null)
    {
        var messageId = Guid.NewGuid().ToString();
        var properties = new BasicProperties
        {
            ContentType = contentType,
            DeliveryMode = DeliveryModes.Persistent,
            MessageId = messageId,
            Type = nameof(ActionProposed),
            Headers = headers,
        };
        if (userId == "")
            properties.UserId = AgentId;
        else if (userId is not null)
            properties.UserId = userId;

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _channel.BasicPublishAsync(WireNames.ProposalsExchange, "", true, properties, body, timeout.Token);
        return messageId;
    }

    public Task<string> PublishAsync(string json, string? userId = "", IDictionary<string, object?>? headers = null) =>
        PublishAsync(Encoding.UTF8.GetBytes(json), userId, headers: headers);

    public static string Proposal(string agentId, string tool, object arguments, string? actionId = null, string runId = "run-raw") =>
        JsonSerializer.Serialize(new ActionProposed(actionId ?? Guid.CreateVersion7().ToString(), runId, agentId, tool,
            JsonSerializer.SerializeToElement(arguments), null, null), AgentBus.Client.AgentClient.Json);

    /// <summary>
    /// Waits for the decision on the proposal published with this message id, setting aside
    /// other replies (outcomes of earlier actions can still be arriving).
    /// </summary>
    public async Task<JsonElement> DecisionForAsync(string messageId, TimeSpan? timeout = null) =>
        (await FirstReplyAsync((type, correlationId, _) => type == nameof(ActionDecided) && correlationId == messageId,
            $"No decision for message {messageId}", timeout)).Body;

    /// <summary>
    /// Waits for the answer to a proposal: its decision (correlated by the proposal's message id) or,
    /// for an action allowed at once, which gets no decision, its outcome (by action id).
    /// </summary>
    public Task<(string Type, JsonElement Body)> AnswerForAsync(string messageId, string actionId, TimeSpan? timeout = null) =>
        FirstReplyAsync((type, correlationId, body) => type == nameof(ActionDecided)
                ? correlationId == messageId
                : type is nameof(ActionSucceeded) or nameof(ActionFailed) && body.TryGetProperty("actionId", out var id) && id.GetString() == actionId,
            $"No answer to message {messageId} (action {actionId})", timeout);

    async Task<(string Type, JsonElement Body)> FirstReplyAsync(Func<string, string?, JsonElement, bool> wanted, string missing, TimeSpan? timeout)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (DateTime.UtcNow < deadline)
        {
            var delivery = await _channel.BasicGetAsync(WireNames.AgentReplyQueue(AgentId), autoAck: true);
            if (delivery is null)
            {
                await Task.Delay(25);
                continue;
            }
            var type = delivery.BasicProperties.Type ?? "";
            var body = JsonSerializer.Deserialize<JsonElement>(delivery.Body.Span);
            if (wanted(type, delivery.BasicProperties.CorrelationId, body))
                return (type, body);
        }
        throw new TimeoutException($"{missing} arrived on {WireNames.AgentReplyQueue(AgentId)}.");
    }

    /// <summary>Takes every reply now waiting on this agent's queue.</summary>
    public async Task<IReadOnlyList<JsonElement>> DrainAsync()
    {
        var replies = new List<JsonElement>();
        while (await _channel.BasicGetAsync(WireNames.AgentReplyQueue(AgentId), autoAck: true) is { } delivery)
            replies.Add(JsonSerializer.Deserialize<JsonElement>(delivery.Body.Span));
        return replies;
    }

    public async ValueTask DisposeAsync()
    {
        await _channel.DisposeAsync();
        await _connection.DisposeAsync();
    }
}
