using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using AgentBus.Client.Functions;
using AgentBus.Contracts;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace AgentBus.Client;

/// <summary>
/// An agent's connection to AgentBus. It publishes proposals as the agent's own broker user (the
/// AMQP user_id, which RabbitMQ verifies, is the agent's identity) with publisher confirms, and
/// reads decisions and outcomes from the agent's own reply queue. It needs no broker rights beyond
/// publishing to the proposals exchange and reading that one queue.
/// </summary>
public sealed class AgentClient : IActionChannel, IAsyncDisposable
{
    public const string ActivitySourceName = "AgentBus.Client";

    /// <summary>MassTransit reads the W3C trace parent from this header and continues the trace.</summary>
    public const string TraceParentHeader = "MT-Activity-Id";

    public const string BaggageHeader = "MT-Activity-Correlation-Context";

    static readonly ActivitySource Source = new(ActivitySourceName);

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    readonly AgentClientOptions _options;
    readonly IConnection _connection;
    readonly IChannel _publisher;
    readonly IChannel _replies;
    readonly ConcurrentDictionary<string, ActionTracker> _actions = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, string> _actionByMessageId = new(StringComparer.Ordinal);
    readonly SemaphoreSlim _consuming = new(1, 1);
    string? _consumerTag;

    AgentClient(AgentClientOptions options, IConnection connection, IChannel publisher, IChannel replies)
    {
        _options = options;
        _connection = connection;
        _publisher = publisher;
        _replies = replies;
    }

    public string AgentId => _options.AgentId;

    /// <summary>Replies that match no proposal this client made (for example after a restart).</summary>
    public event Action<string, JsonElement>? UnmatchedReply;

    public static async Task<AgentClient> ConnectAsync(AgentClientOptions options, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(options.AgentId))
            throw new ArgumentException("AgentId is required: it is also the agent's broker user name.", nameof(options));

        var factory = new ConnectionFactory
        {
            HostName = options.Host,
            Port = options.Port,
            VirtualHost = options.VirtualHost,
            UserName = options.AgentId,
            Password = options.Password,
            ClientProvidedName = $"agent:{options.AgentId}",
            AutomaticRecoveryEnabled = true,
            TopologyRecoveryEnabled = true,
            RequestedHeartbeat = TimeSpan.FromSeconds(30),
        };
        var connection = await factory.CreateConnectionAsync(EndpointsOf(options), cancellationToken);
        try
        {
            var publisher = await connection.CreateChannelAsync(
                new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true),
                cancellationToken);
            var replies = await connection.CreateChannelAsync(cancellationToken: cancellationToken);
            var client = new AgentClient(options, connection, publisher, replies);
            await replies.BasicQosAsync(0, 64, false, cancellationToken);
            if (!options.ConsumeRepliesOnlyWhileTracking)
                await client.StartConsumingAsync(cancellationToken);
            return client;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>The nodes to try, in order: every one in <see cref="AgentClientOptions.Endpoints"/>, else Host and Port.</summary>
    public static IReadOnlyList<AmqpTcpEndpoint> EndpointsOf(AgentClientOptions options) =>
        BrokerNodes.ListOrSingle(options.Endpoints, options.Host, options.Port)
        .Select(n => new AmqpTcpEndpoint(n.Host, n.Port))
        .ToList();

    async Task StartConsumingAsync(CancellationToken cancellationToken)
    {
        await _consuming.WaitAsync(cancellationToken);
        try
        {
            if (_consumerTag is not null)
                return;
            var consumer = new AsyncEventingBasicConsumer(_replies);
            consumer.ReceivedAsync += OnReplyAsync;
            _consumerTag = await _replies.BasicConsumeAsync(WireNames.AgentReplyQueue(_options.AgentId), autoAck: false, consumer, cancellationToken);
        }
        finally
        {
            _consuming.Release();
        }
    }

    /// <summary>With <see cref="AgentClientOptions.ConsumeRepliesOnlyWhileTracking"/>: stops reading replies once nothing is tracked.</summary>
    async Task StopConsumingWhenIdleAsync()
    {
        if (!_options.ConsumeRepliesOnlyWhileTracking || !_actions.IsEmpty || _consumerTag is null)
            return;
        await _consuming.WaitAsync();
        try
        {
            if (_actions.IsEmpty && _consumerTag is { } tag && _replies.IsOpen)
            {
                _consumerTag = null;
                await _replies.BasicCancelAsync(tag);
            }
        }
        catch (Exception ex) when (ex is RabbitMQ.Client.Exceptions.AlreadyClosedException or RabbitMQ.Client.Exceptions.OperationInterruptedException
                                       or ObjectDisposedException or IOException)
        {
            // The channel is gone: no consumer is left to stop.
        }
        finally
        {
            _consuming.Release();
        }
    }

    /// <summary>Publishes one proposal and returns its action id once the broker has confirmed it.</summary>
    /// <param name="tool">A catalog operation as "tool.operation" (payments.refund), or a generic tool's name when <paramref name="operation"/> is given or the tool has no operations.</param>
    /// <param name="operation">The operation, when <paramref name="tool"/> names the tool alone; null: split "tool.operation" at its last dot, or no operation when there is no dot.</param>
    /// <param name="compensates">For a rollback identity only: the action this one undoes (see <c>agentbus runs rollback</c>).</param>
    public async Task<string> ProposeAsync(string tool, JsonElement arguments, string runId,
        string? idempotencyKey = null, string? intent = null, string? actionId = null, CancellationToken cancellationToken = default,
        string? operation = null, string? compensates = null)
    {
        actionId ??= Guid.CreateVersion7().ToString();
        (tool, operation) = Split(tool, operation);
        var proposal = new ActionProposed(actionId, runId, _options.AgentId, tool, arguments, idempotencyKey, intent, operation, compensates);
        var tracker = _actions.GetOrAdd(actionId, id => new ActionTracker(id, tool));
        if (_options.ConsumeRepliesOnlyWhileTracking)
            await StartConsumingAsync(cancellationToken);
        tracker.MessageId = await PublishAsync(JsonSerializer.SerializeToUtf8Bytes(proposal, Json), actionId, runId, cancellationToken);
        return actionId;
    }

    public Task<string> ProposeAsync(string tool, object arguments, string runId,
        string? idempotencyKey = null, string? intent = null, string? actionId = null, CancellationToken cancellationToken = default,
        string? operation = null) =>
        ProposeAsync(tool, JsonSerializer.SerializeToElement(arguments, Json), runId, idempotencyKey, intent, actionId, cancellationToken, operation);

    /// <summary>
    /// The operations the policy in force grants this agent, as the MCP gateway offers them (default
    /// http://127.0.0.1:5105), read with this client's agent id and password. Throws
    /// <see cref="GatewayCredentialRejectedException"/> (401), <see cref="GatewayUnavailableException"/> (503),
    /// <see cref="GatewayUnreachableException"/> (no answer) or <see cref="GatewayException"/> (anything else).
    /// </summary>
    public Task<OperationsOffer> GetOperationsAsync(Uri? gateway = null, HttpClient? http = null, CancellationToken cancellationToken = default) =>
        OperationsGateway.GetOperationsAsync(_options, gateway, http, cancellationToken);

    /// <summary>Operation names have no dots, tool names may: "a.b.refund" is operation refund of tool a.b.</summary>
    static (string Tool, string? Operation) Split(string tool, string? operation)
    {
        if (operation is not null)
            return (tool, operation);
        var dot = tool.LastIndexOf('.');
        return dot > 0 && dot < tool.Length - 1 ? (tool[..dot], tool[(dot + 1)..]) : (tool, null);
    }

    /// <summary>
    /// Reports money this agent spent outside AgentBus (model inference, mostly) for a run, so its
    /// budgets count it. Returns the report id; sending the same id again never charges twice.
    /// </summary>
    public async Task<string> ReportSpendAsync(decimal amountUsd, string category, string runId, string? description = null,
        string? reportId = null, CancellationToken cancellationToken = default)
    {
        reportId ??= Guid.CreateVersion7().ToString();
        var report = new SpendReported(reportId, _options.AgentId, runId, amountUsd, category, description);
        var properties = new BasicProperties
        {
            ContentType = WireNames.ContentType,
            DeliveryMode = DeliveryModes.Persistent,
            MessageId = Guid.NewGuid().ToString(),
            UserId = _options.AgentId,
            Type = nameof(SpendReported),
            Timestamp = new AmqpTimestamp(DateTimeOffset.UtcNow.ToUnixTimeSeconds()),
        };

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.PublishTimeout);
        await _publisher.BasicPublishAsync(WireNames.SpendReportsExchange, "", mandatory: true, properties,
            JsonSerializer.SerializeToUtf8Bytes(report, Json), timeout.Token);
        return reportId;
    }

    /// <summary>Proposes and waits for the final decision and, when the action runs, its outcome.</summary>
    public async Task<ActionResult> RunAsync(string tool, object arguments, string runId, TimeSpan timeout,
        string? idempotencyKey = null, string? intent = null, CancellationToken cancellationToken = default, string? operation = null)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var actionId = await ProposeAsync(tool, arguments, runId, idempotencyKey, intent, cancellationToken: deadline.Token, operation: operation);
        return await WaitAsync(actionId, deadline.Token);
    }

    /// <summary>Waits until the action is finished: denied, or allowed and then succeeded or failed.</summary>
    public async Task<ActionResult> WaitAsync(string actionId, CancellationToken cancellationToken)
    {
        var tracker = _actions.GetOrAdd(actionId, id => new ActionTracker(id, null));
        try
        {
            return await tracker.Finished.Task.WaitAsync(cancellationToken);
        }
        finally
        {
            if (tracker.Finished.Task.IsCompleted)
                Forget(actionId);
        }
    }

    /// <summary>
    /// Stops tracking an action this client no longer waits for (one left waiting for approval, say), so
    /// a long-lived client holds nothing for it; a later reply for it counts as unmatched.
    /// </summary>
    public void Forget(string actionId)
    {
        if (_actions.TryRemove(actionId, out var tracker) && tracker.MessageId is { } messageId)
            _actionByMessageId.TryRemove(messageId, out _);
        if (_options.ConsumeRepliesOnlyWhileTracking && _actions.IsEmpty)
            _ = StopConsumingWhenIdleAsync();
    }

    /// <summary>Actions this client still tracks: proposed or awaited and not yet finished or forgotten.</summary>
    public int TrackedActions => _actions.Count;

    /// <summary>
    /// Waits for the first decision on an action, without waiting for it to finish: an agent that must
    /// not block on people sees <see cref="Decision.ApprovalRequired"/> (with the approval id) here and
    /// can carry on; <see cref="WaitAsync"/> still returns the final decision and outcome later. An action
    /// allowed at once gets no decision: this returns, once it has run, the decision its outcome implies.
    /// </summary>
    public async Task<ActionDecided> DecisionAsync(string actionId, CancellationToken cancellationToken)
    {
        var tracker = _actions.GetOrAdd(actionId, id => new ActionTracker(id, null));
        var first = await Task.WhenAny(tracker.FirstDecision.Task, tracker.Finished.Task).WaitAsync(cancellationToken);
        return first == tracker.FirstDecision.Task ? tracker.FirstDecision.Task.Result : tracker.Finished.Task.Result.Decision;
    }

    /// <summary>
    /// Tells AgentBus the run is over and whether it achieved its goal, for the run story and the
    /// completion-rate gate. Call it once per run; the first report counts, and repeating the same
    /// report (a retry after a lost confirm) records nothing new.
    /// </summary>
    public async Task CompleteRunAsync(string runId, bool succeeded, string? summary = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(runId);
        var body = JsonSerializer.SerializeToUtf8Bytes(new RunCompleted(runId, _options.AgentId, succeeded, summary), Json);
        var properties = new BasicProperties
        {
            ContentType = WireNames.ContentType,
            DeliveryMode = DeliveryModes.Persistent,
            MessageId = MessageIds.RunCompleted(_options.AgentId, runId).ToString(),
            UserId = _options.AgentId,
            Type = nameof(RunCompleted),
            Timestamp = new AmqpTimestamp(DateTimeOffset.UtcNow.ToUnixTimeSeconds()),
        };

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.PublishTimeout);
        await _publisher.BasicPublishAsync(WireNames.RunReportsExchange, "", mandatory: true, properties, body, timeout.Token);
    }

    /// <summary>The same id for every report of one run, so a resent report is recognised as the same message.</summary>
    async Task<string> PublishAsync(byte[] body, string actionId, string runId, CancellationToken cancellationToken)
    {
        using var activity = Source.StartActivity("propose", ActivityKind.Producer);
        activity?.SetTag("agentbus.action_id", actionId);
        activity?.SetTag("agentbus.run_id", runId);
        activity?.SetBaggage("agentbus.run_id", runId);

        var messageId = Guid.NewGuid().ToString();
        _actionByMessageId[messageId] = actionId;
        var headers = new Dictionary<string, object?>();
        if (activity?.Id is { } traceParent)
        {
            headers[TraceParentHeader] = traceParent;
            headers["traceparent"] = traceParent;
            headers[BaggageHeader] = activity.Baggage.ToDictionary(b => b.Key, b => (object?)b.Value);
        }

        var properties = new BasicProperties
        {
            ContentType = WireNames.ContentType,
            DeliveryMode = DeliveryModes.Persistent,
            MessageId = messageId,
            UserId = _options.AgentId,
            Type = nameof(ActionProposed),
            Timestamp = new AmqpTimestamp(DateTimeOffset.UtcNow.ToUnixTimeSeconds()),
            Headers = headers,
        };

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.PublishTimeout);
        try
        {
            await _publisher.BasicPublishAsync(WireNames.ProposalsExchange, "", mandatory: true, properties, body, timeout.Token);
        }
        catch
        {
            _actionByMessageId.TryRemove(messageId, out _);
            throw;
        }
        return messageId;
    }

    async Task OnReplyAsync(object sender, BasicDeliverEventArgs delivery)
    {
        try
        {
            Dispatch(delivery.BasicProperties.Type, delivery.BasicProperties.CorrelationId, delivery.BasicProperties.UserId, delivery.Body.Span);
        }
        catch (JsonException)
        {
            // A reply we cannot read is still acknowledged: redelivering it would never make it readable.
        }
        await _replies.BasicAckAsync(delivery.DeliveryTag, multiple: false);
    }

    /// <param name="sender">The AMQP user_id, which RabbitMQ checked against the publishing connection.</param>
    void Dispatch(string? type, string? correlationId, string? sender, ReadOnlySpan<byte> body)
    {
        switch (type)
        {
            case nameof(ActionDecided):
                var decided = JsonSerializer.Deserialize<ActionDecided>(body, Json)!;
                if (sender != BrokerUsers.Policy)
                {
                    UnmatchedReply?.Invoke(type, JsonSerializer.Deserialize<JsonElement>(body));
                    break;
                }
                var decidedId = decided.ActionId ?? (correlationId is not null && _actionByMessageId.TryGetValue(correlationId, out var byMessage) ? byMessage : null);
                if (Tracker(decidedId, type, body) is { } forDecision)
                    forDecision.Decided(decided);
                break;
            case nameof(ActionSucceeded):
                var succeeded = JsonSerializer.Deserialize<ActionSucceeded>(body, Json)!;
                if (Reporter(succeeded.ActionId, succeeded.Tool, sender, type, body) is { } forSuccess)
                    forSuccess.Succeeded(succeeded);
                break;
            case nameof(ActionFailed):
                var failed = JsonSerializer.Deserialize<ActionFailed>(body, Json)!;
                // A refusal of a command the policy service never signed ends nothing: the genuine command may still run.
                if (ExecutionErrorCodes.EndsNoAction(failed))
                    UnmatchedReply?.Invoke(nameof(ActionFailed), JsonSerializer.Deserialize<JsonElement>(body));
                else if (Reporter(failed.ActionId, failed.Tool, sender, type, body) is { } forFailure)
                    forFailure.Failed(failed);
                break;
            default:
                UnmatchedReply?.Invoke(type ?? "(no type)", JsonSerializer.Deserialize<JsonElement>(body));
                break;
        }
    }

    /// <summary>
    /// The action an outcome is for, if it may speak for it: sent by the executors of the tool it names
    /// (or by policy), and that tool is the one this agent proposed. Every executor may publish
    /// outcomes, so without this a foothold in one tool's executor could end another tool's actions
    /// here, and an agent might retry a refund that ran.
    /// </summary>
    ActionTracker? Reporter(string? actionId, string? tool, string? sender, string type, ReadOnlySpan<byte> body)
    {
        if (Tracker(actionId, type, body) is not { } tracker)
            return null;
        if (BrokerUsers.MayReportOutcome(tool, sender) && (tracker.Tool is null || tracker.Tool == tool))
            return tracker;
        UnmatchedReply?.Invoke(type, JsonSerializer.Deserialize<JsonElement>(body));
        return null;
    }

    ActionTracker? Tracker(string? actionId, string type, ReadOnlySpan<byte> body)
    {
        if (actionId is not null && _actions.TryGetValue(actionId, out var tracker))
            return tracker;
        UnmatchedReply?.Invoke(type, JsonSerializer.Deserialize<JsonElement>(body));
        return null;
    }

    public async ValueTask DisposeAsync()
    {
        await _replies.DisposeAsync();
        await _publisher.DisposeAsync();
        await _connection.DisposeAsync();
    }

    sealed class ActionTracker(string actionId, string? tool)
    {
        ActionDecided? _decision;

        /// <summary>The AMQP message id of the last proposal sent for it: how a decision without an action id finds it.</summary>
        public string? MessageId { get; set; }

        /// <summary>The tool proposed (or named by policy's decision, when this client did not propose it).</summary>
        public string? Tool { get; private set; } = tool;

        public TaskCompletionSource<ActionResult> Finished { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<ActionDecided> FirstDecision { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        // approval_required is not final: a later decision (allowed or denied) follows once people answered.
        public void Decided(ActionDecided decision)
        {
            Tool ??= decision.Tool;
            FirstDecision.TrySetResult(decision);
            if (_decision is { Decision: not Decision.ApprovalRequired } && decision.Decision == Decision.ApprovalRequired)
                return;
            _decision = decision;
            if (decision.Decision == Decision.Denied)
                Finished.TrySetResult(new ActionResult(actionId, decision));
        }

        public void Succeeded(ActionSucceeded outcome) =>
            Finished.TrySetResult(new ActionResult(actionId, _decision ?? Allowed(outcome.RunId, outcome.Tool), Succeeded: outcome));

        public void Failed(ActionFailed outcome) =>
            Finished.TrySetResult(new ActionResult(actionId, _decision ?? Allowed(outcome.RunId, outcome.Tool), Failed: outcome));

        // An action allowed at once gets no decision (its outcome implies it), and a re-sent proposal's
        // decision can come after the outcome: they travel through different exchanges.
        ActionDecided Allowed(string runId, string tool) =>
            new(actionId, runId, "", tool, Decision.Allowed, ReasonCodes.Allowed, "Inferred from the outcome.", null, null, DateTimeOffset.UtcNow);
    }
}
