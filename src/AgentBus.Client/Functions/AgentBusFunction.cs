using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgentBus.Contracts;
using Microsoft.Extensions.AI;

namespace AgentBus.Client.Functions;

/// <summary>
/// One operation the agent is offered, as a function a model can call. Calling it proposes the
/// action to AgentBus under the agent's own identity and returns what AgentBus decided and what
/// happened (<see cref="FunctionResults"/>); it never calls the system of record itself.
/// </summary>
public sealed class AgentBusFunction : AIFunction
{
    /// <summary>Keys of <see cref="AdditionalProperties"/>, as MCP's tool annotations name the same facts.</summary>
    public const string ReadOnlyProperty = "readOnly";
    public const string DestructiveProperty = "destructive";
    public const string IdempotentProperty = "idempotent";
    public const string RiskProperty = "risk";
    public const string TitleProperty = "title";

    readonly IActionChannel _client;
    readonly string _runId;
    readonly AgentBusFunctionOptions _options;

    public AgentBusFunction(AgentClient client, OfferedOperation operation, string runId, AgentBusFunctionOptions? options = null)
        : this((IActionChannel)client, operation, runId, options)
    {
    }

    internal AgentBusFunction(IActionChannel client, OfferedOperation operation, string runId, AgentBusFunctionOptions? options)
    {
        _client = client;
        Operation = operation;
        _runId = runId;
        _options = options ?? new AgentBusFunctionOptions();
        Description = Describe(operation);
        AdditionalProperties = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            [ReadOnlyProperty] = operation.ReadOnly,
            [DestructiveProperty] = operation.Destructive,
            [IdempotentProperty] = operation.Idempotent,
            [RiskProperty] = operation.Risk,
            [TitleProperty] = operation.Title,
        };
    }

    /// <summary>The offered operation this function proposes: its tool and operation name go into every proposal.</summary>
    public OfferedOperation Operation { get; }

    public override string Name => Operation.Name;

    public override string Description { get; }

    public override JsonElement JsonSchema => Operation.InputSchema;

    public override IReadOnlyDictionary<string, object?> AdditionalProperties { get; }

    /// <summary>The catalog's description, and when people must approve some calls, that too: a model should know before it calls.</summary>
    public static string Describe(OfferedOperation operation) => operation.Approval is { } approval
        ? $"{operation.Description.TrimEnd()} Needs a person's approval ({approval}): such a call answers approval_required and runs once approved."
        : operation.Description;

    protected override async ValueTask<object?> InvokeCoreAsync(AIFunctionArguments arguments, CancellationToken cancellationToken)
    {
        var callId = _options.CallId?.Invoke();
        var actionId = callId is { Length: > 0 } ? ActionIdFor(_client.AgentId, _runId, Name, callId) : Guid.CreateVersion7().ToString();
        ActionDecided? decision = null;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.CallTimeout);
        try
        {
            await _client.ProposeAsync(Operation.Tool, ToJson(arguments), _runId, intent: $"Model function call {Name}", actionId: actionId,
                cancellationToken: deadline.Token, operation: Operation.Operation);
            decision = await _client.DecisionAsync(actionId, deadline.Token);
            if (decision.Decision != Decision.ApprovalRequired)
                return FunctionResults.From(await _client.WaitAsync(actionId, deadline.Token));
            if (!_options.WaitForApproval)
                return FunctionResults.PendingApproval(decision);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return FunctionResults.TimedOut(actionId, decision, _options.CallTimeout);
        }

        using var approval = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        approval.CancelAfter(_options.MaxApprovalWait);
        try
        {
            return FunctionResults.From(await _client.WaitAsync(actionId, approval.Token));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return FunctionResults.PendingApproval(decision);
        }
    }

    /// <summary>The arguments as the JSON object a proposal carries (values from a model arrive as JsonElement; others are serialized).</summary>
    public static JsonElement ToJson(IEnumerable<KeyValuePair<string, object?>> arguments)
    {
        var body = new JsonObject();
        foreach (var (name, value) in arguments)
            body[name] = value switch
            {
                null => null,
                JsonNode node => node.DeepClone(),
                _ => JsonSerializer.SerializeToNode(value, value.GetType(), AgentClient.Json),
            };
        return JsonSerializer.SerializeToElement(body, AgentClient.Json);
    }

    /// <summary>
    /// The same action id for the same function call of the same agent and run: a UUID (version 8,
    /// RFC 9562) from SHA-256 of the four, so a retried call is recognised and runs once.
    /// </summary>
    public static string ActionIdFor(string agentId, string runId, string functionName, string callId)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes($"agentbus.function-call\n{agentId}\n{runId}\n{functionName}\n{callId}"), hash);
        hash[6] = (byte)((hash[6] & 0x0F) | 0x80);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash[..16], bigEndian: true).ToString();
    }
}
