namespace AgentBus.Contracts;

/// <summary>
/// The policy service's answer to one proposal. Identifiers are null only when the proposal was
/// too malformed to read them; the reply then carries the proposal's AMQP message id as its
/// correlation id. An <see cref="Decision.ApprovalRequired"/> decision is followed by a second,
/// final one (allowed or denied) once people have answered; both carry <see cref="ApprovalId"/>.
/// </summary>
public sealed record ActionDecided(
    string? ActionId,
    string? RunId,
    string AgentId,
    string? Tool,
    Decision Decision,
    string ReasonCode,
    string Reason,
    string? RuleId,
    string? PolicyVersion,
    DateTimeOffset DecidedAt,
    string? ApprovalId = null);
