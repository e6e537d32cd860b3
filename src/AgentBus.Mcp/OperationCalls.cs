using System.Collections.Concurrent;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using AgentBus.Client;
using AgentBus.Contracts;
using Microsoft.Extensions.Options;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using RabbitMQ.Client.Exceptions;

namespace AgentBus.Mcp;

/// <summary>Where a call finds its agent's broker connection: the one admitted for the HTTP request, or stdio's one agent.</summary>
public interface IAgentConnectionSource
{
    /// <exception cref="AgentAdmissionException">The agent cannot be connected now.</exception>
    Task<AgentConnection> GetAsync(string agentId, CancellationToken cancellationToken);
}

/// <summary>
/// What a tools/call does: propose the operation as the agent, wait for the decision and the outcome,
/// and answer in terms a model can act on. The action id is derived from the agent and the idempotency
/// key (the client's _meta key, or a fresh one), so calling again with the same key is the same action:
/// the policy service answers a repeat with its first decision and, once it ran, its recorded outcome,
/// and executors run an action id at most once. The gateway itself never re-sends a proposal.
/// </summary>
public sealed class OperationCalls(IOptions<GatewayOptions> options, IAgentConnectionSource connections, ILogger<OperationCalls> logger, TimeProvider clock)
{
    const int MaxRemembered = 100_000;

    readonly GatewayOptions _options = options.Value;

    /// <summary>
    /// Actions this gateway answered approval_required (or a timeout) for: a repeat of one waits a while for
    /// the outcome. Their trackers stay in the agent's client until it disconnects when idle.
    /// </summary>
    readonly ConcurrentDictionary<string, DateTimeOffset> _awaitingPeople = new(StringComparer.Ordinal);

    public async ValueTask<CallToolResult> CallAsync(string agentId, string tool, string operation, RequestContext<CallToolRequestParams> request,
        CancellationToken cancellationToken)
    {
        // The SDK binds a session to the user that opened it; this is the same check for the tool's own agent.
        if (request.User?.FindFirst(ClaimTypes.NameIdentifier)?.Value is { } caller && caller != agentId)
            return Refused("identity_mismatch", $"This session belongs to agent '{agentId}', not '{caller}'.");
        var (meta, metaError) = CallMeta.Read(request.Params?.Meta);
        if (meta is null)
            return Refused("invalid_meta", metaError!);

        var arguments = JsonSerializer.SerializeToElement(request.Params?.Arguments ?? new Dictionary<string, JsonElement>(), AgentClient.Json);
        var argumentsJson = arguments.GetRawText();
        var size = System.Text.Encoding.UTF8.GetByteCount(argumentsJson);
        if (size > _options.MaxArgumentBytes)
            return Refused(ReasonCodes.PayloadTooLarge, $"The arguments are {size} bytes; at most {_options.MaxArgumentBytes} are accepted. Nothing was proposed.");

        var runId = meta.RunId ?? RunIdFor(request.Server.SessionId);
        var idempotencyKey = meta.IdempotencyKey ?? Guid.CreateVersion7().ToString();
        var actionId = MessageIds.For($"{agentId}\n{idempotencyKey}", "mcp.action").ToString();
        var call = new CallFacts(agentId, tool, operation, actionId, runId, idempotencyKey);

        var awaitingKey = $"{agentId}\n{actionId}";
        // Answered already: the same again, without asking the policy service, whose own record of the
        // outcome may lag the reply that carried it.
        var asked = Fingerprint(tool, operation, argumentsJson);
        if (_finished.TryGetValue(awaitingKey, out var known) && clock.GetUtcNow() - known.At < FinishedKept && known.Asked == asked)
            return CallResults.Final(call, known.Result);

        AgentConnection connection;
        try
        {
            connection = await connections.GetAsync(agentId, cancellationToken);
        }
        catch (AgentAdmissionException ex)
        {
            return Unavailable(call, ex.Message, published: false);
        }
        using var inUse = connection.Use();
        if (connection.Client is not { } client)
            return Unavailable(call, "The agent's broker connection was just closed; call again.", published: false);

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_options.CallTimeout);
        try
        {
            await client.ProposeAsync(tool, arguments, runId, idempotencyKey, meta.Intent, actionId, deadline.Token, operation);
        }
        catch (Exception ex) when (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested
                                   || ex is BrokerUnreachableException or AlreadyClosedException or OperationInterruptedException
                                       or PublishException or IOException)
        {
            client.Forget(actionId);
            logger.LogWarning("Agent {AgentId}: proposal {ActionId} for {Tool}.{Operation} was not confirmed by the broker: {Error}",
                agentId, actionId, tool, operation, ex.GetBaseException().Message);
            return Unavailable(call, $"The broker did not confirm the proposal ({ex.GetBaseException().Message}).", published: true);
        }

        try
        {
            if (_awaitingPeople.ContainsKey(awaitingKey))
                return await AwaitPeopleAsync(client, call, awaitingKey, asked, cancellationToken);

            var decision = await client.DecisionAsync(actionId, deadline.Token);
            if (decision.Decision == Decision.ApprovalRequired && meta.IdempotencyKey is not null
                && await FinishesWithinAsync(client, actionId, RepeatGrace, cancellationToken) is { } alreadyDecided)
                // A repeat this gateway does not remember (it restarted): the policy service re-sends the first
                // decision (approval_required) and right behind it the final one and the outcome.
                return Finished(awaitingKey, asked, call, alreadyDecided);
            if (decision.Decision == Decision.ApprovalRequired)
            {
                // Still tracked: the outcome that follows the people's decision is kept (from the executor of
                // this tool only, as the client checks) for the repeat call, even if it arrives before it.
                Remember(awaitingKey);
                return CallResults.AwaitingApproval(call, decision.ApprovalId ?? MessageIds.Approval(agentId, actionId).ToString("D"), decision.Reason, _options.ApprovalsUrl);
            }
            return Finished(awaitingKey, asked, call, await client.WaitAsync(actionId, deadline.Token));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Still tracked, like a pending approval: a late outcome is kept for the repeat call.
            Remember(awaitingKey);
            return CallResults.TimedOut(call, _options.CallTimeout);
        }
        catch (OperationCanceledException)
        {
            client.Forget(actionId);
            throw;
        }
    }

    /// <summary>A repeat of an action that waits for people: its outcome if they decide within the wait, else "still waiting".</summary>
    async Task<CallToolResult> AwaitPeopleAsync(AgentClient client, CallFacts call, string awaitingKey, string asked, CancellationToken cancellationToken)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        wait.CancelAfter(_options.PendingApprovalWait < _options.CallTimeout ? _options.PendingApprovalWait : _options.CallTimeout);
        try
        {
            return Finished(awaitingKey, asked, call, await client.WaitAsync(call.ActionId, wait.Token));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return CallResults.AwaitingApproval(call, MessageIds.Approval(call.AgentId, call.ActionId).ToString("D"),
                "Still waiting for a person's decision.", _options.ApprovalsUrl);
        }
    }

    /// <summary>How long a call with the client's own key looks past approval_required for a final answer already given.</summary>
    static readonly TimeSpan RepeatGrace = TimeSpan.FromSeconds(1);

    static async Task<ActionResult?> FinishesWithinAsync(AgentClient client, string actionId, TimeSpan grace, CancellationToken cancellationToken)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        wait.CancelAfter(grace);
        try
        {
            return await client.WaitAsync(actionId, wait.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>How long a final answer is repeated from memory to a call with the same key.</summary>
    static readonly TimeSpan FinishedKept = TimeSpan.FromMinutes(10);

    /// <summary>Only the same operation with the same arguments is answered from memory; anything else goes to the policy (action_id_reused).</summary>
    readonly ConcurrentDictionary<string, (ActionResult Result, DateTimeOffset At, string Asked)> _finished = new(StringComparer.Ordinal);

    static string Fingerprint(string tool, string operation, string argumentsJson) =>
        Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{tool}\n{operation}\n{argumentsJson}")));

    CallToolResult Finished(string key, string asked, CallFacts call, ActionResult result)
    {
        _awaitingPeople.TryRemove(key, out _);
        var now = clock.GetUtcNow();
        if (_finished.Count >= MaxRemembered)
            foreach (var (stale, entry) in _finished)
                if (now - entry.At >= FinishedKept)
                    _finished.TryRemove(stale, out _);
        if (_finished.Count < MaxRemembered)
            _finished[key] = (result, now, asked);
        return CallResults.Final(call, result);
    }

    void Remember(string awaitingKey)
    {
        var now = clock.GetUtcNow();
        if (_awaitingPeople.Count >= MaxRemembered)
            foreach (var (key, since) in _awaitingPeople)
                if (now - since > TimeSpan.FromDays(1))
                    _awaitingPeople.TryRemove(key, out _);
        if (_awaitingPeople.Count < MaxRemembered)
            _awaitingPeople[awaitingKey] = now;
    }

    /// <summary>The MCP session is the run unless the client names one; runId allows letters, digits and . _ : -.</summary>
    internal static string RunIdFor(string? sessionId)
    {
        if (string.IsNullOrEmpty(sessionId))
            return "mcp-" + Guid.CreateVersion7().ToString("N");
        var safe = new string(sessionId.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-' ? c : '-').ToArray());
        var runId = "mcp-" + safe;
        return runId.Length <= 128 ? runId : runId[..128];
    }

    static CallToolResult Refused(string code, string detail) => CallResults.Error(detail, new JsonObject
    {
        ["status"] = "refused",
        ["code"] = code,
        ["detail"] = detail,
    });

    static CallToolResult Unavailable(CallFacts call, string detail, bool published) => CallResults.Error(
        published
            ? $"AgentBus is unreachable: {detail} The proposal may or may not have arrived. Calling again with the same arguments and _meta \"{OperationNames.IdempotencyKeyMeta}\": \"{call.IdempotencyKey}\" is safe: the action runs at most once."
            : $"AgentBus is unreachable: {detail} Nothing was proposed and nothing ran; try again later.",
        call.Describe("broker_unavailable", new JsonObject { ["detail"] = detail, ["mayHaveArrived"] = published }));
}
