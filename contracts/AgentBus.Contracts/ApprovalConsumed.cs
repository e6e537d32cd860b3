using System.Text.Json;

namespace AgentBus.Contracts;

/// <summary>
/// The answer to an accepted <see cref="ConsumeApproval"/>: consumption <see cref="ConsumptionId"/>
/// owns the grant, and no other can use it. Carries the approved action itself (arguments whose
/// CanonicalJson hash is <see cref="ArgumentsHash"/>), so policy builds the one ExecuteTool from what
/// people approved. <see cref="Repeated"/> when the same consumption asked again (a redelivery): policy
/// repeats the same execution, which the executor runs at most once per action id.
/// </summary>
public sealed record ApprovalConsumed(
    Guid ApprovalId,
    Guid ConsumptionId,
    string ActionId,
    string RunId,
    string AgentId,
    string Tool,
    JsonElement Arguments,
    string ArgumentsHash,
    string? IdempotencyKey,
    string RuleId,
    IReadOnlyList<string> Approvers,
    bool Repeated,
    DateTimeOffset ConsumedAt);
