using System.Text.Json;

namespace AgentBus.Contracts;

/// <summary>
/// Sent by the policy service only, to the queue of exactly one tool, and signed by it: an executor
/// refuses a command whose <see cref="Authorization"/> does not verify.
/// <see cref="ResultClearance"/> lists the classes of sensitive data (pii.email, …) the agent may
/// receive: the executor masks every other class it finds in the result. It is signed when present;
/// null (a command from a policy service that predates it) clears nothing, so everything found is masked.
/// <see cref="Allowance"/> is the policy's decision to run it when that decision was not sent on its own
/// (an action allowed at once: the agent's answer is the outcome, and the audit records the decision
/// from this command); null on a command that follows an approval, whose decision is its own message.
/// It is not signed: executors do not act on it.
/// </summary>
public sealed record ExecuteTool(
    string ActionId,
    string RunId,
    string AgentId,
    string Tool,
    JsonElement Arguments,
    string ArgumentsHash,
    string? IdempotencyKey,
    DateTimeOffset AuthorizedAt,
    ToolAuthorization Authorization,
    string? Operation = null,
    IReadOnlyList<string>? ResultClearance = null,
    PolicyAllowance? Allowance = null);

/// <summary>Why the policy service allowed an action: what an <see cref="ActionDecided"/> of it would have said.</summary>
public sealed record PolicyAllowance(string ReasonCode, string Reason, string? RuleId, string? PolicyVersion);
