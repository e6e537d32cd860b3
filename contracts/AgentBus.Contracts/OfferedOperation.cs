using System.Text.Json;

namespace AgentBus.Contracts;

/// <summary>
/// One catalog operation as an agent is offered it: what the MCP gateway's tools/list returns, what
/// GET /v1/operations returns, and what the .NET and Python clients turn into functions a model can
/// call. Only operations the policy in force grants to the agent are offered.
/// </summary>
/// <param name="Name">The name a model calls it by (<see cref="OperationNames.ForModel"/>): payments_refund.</param>
/// <param name="Tool">The tool, as proposals name it: payments.</param>
/// <param name="Operation">The operation, as proposals name it: refund.</param>
/// <param name="Title">tool.operation, for people: payments.refund.</param>
/// <param name="InputSchema">The operation's argument JSON Schema (2020-12), exactly as the catalog declares it.</param>
/// <param name="Destructive">It may change or remove something that cannot simply be put back (not read-only, and it moves money, deletes data, deploys code, or is high risk or above).</param>
/// <param name="Approval">When a person must approve a call first, in words ("1 of 'payments-approvers' when amountUsd > 250"); null when never.</param>
public sealed record OfferedOperation(
    string Name,
    string Tool,
    string Operation,
    string Title,
    string Description,
    JsonElement InputSchema,
    bool ReadOnly,
    bool Destructive,
    bool Idempotent,
    string Risk,
    IReadOnlyList<string> Capabilities,
    string? Approval);

/// <summary>The operations one agent may call under one policy version.</summary>
public sealed record OperationsOffer(string AgentId, string? PolicyVersion, IReadOnlyList<OfferedOperation> Operations);

/// <summary>
/// Model-facing names. Model APIs accept only <c>[A-Za-z0-9_-]{1,64}</c> as a function name, so
/// "payments.refund" is offered as "payments_refund"; the gateway and the clients map the name back
/// to (tool, operation) through the offer, never by parsing it.
/// </summary>
public static class OperationNames
{
    public const int MaxLength = 64;

    public static string ForModel(string tool, string operation)
    {
        var name = string.Create(tool.Length + 1 + operation.Length, (tool, operation), static (span, parts) =>
        {
            parts.tool.AsSpan().CopyTo(span);
            span[parts.tool.Length] = '_';
            parts.operation.AsSpan().CopyTo(span[(parts.tool.Length + 1)..]);
            for (var i = 0; i < span.Length; i++)
                if (!(char.IsAsciiLetterOrDigit(span[i]) || span[i] is '_' or '-'))
                    span[i] = '_';
        });
        return name.Length <= MaxLength ? name : name[..MaxLength];
    }

    /// <summary>The _meta keys an MCP client may set on tools/call (prefixed, as MCP asks of custom keys).</summary>
    public const string RunIdMeta = "agentbus/runId";
    public const string IdempotencyKeyMeta = "agentbus/idempotencyKey";
    public const string IntentMeta = "agentbus/intent";
}
