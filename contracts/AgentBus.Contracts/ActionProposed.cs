using System.Text.Json;

namespace AgentBus.Contracts;

/// <summary>
/// An agent asks to run one tool call: an operation of a catalog tool (<see cref="Tool"/> payments,
/// <see cref="Operation"/> refund) with business arguments, or a call of a generic tool without operations. Identifiers are strings on purpose: the policy service
/// validates them and answers malformed ones with a reason code instead of a deserialization fault.
/// <see cref="Compensates"/> is set only by a rollback identity (<c>agentbus runs rollback</c>): the id of the
/// succeeded action this one undoes, with its declared compensation; the policy service checks the claim.
/// </summary>
public sealed record ActionProposed(
    string ActionId,
    string RunId,
    string AgentId,
    string Tool,
    JsonElement Arguments,
    string? IdempotencyKey = null,
    string? Intent = null,
    string? Operation = null,
    string? Compensates = null);
