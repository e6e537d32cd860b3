using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.Policy.Engine;

namespace AgentBus.ConsoleBench.Seeding;

/// <summary>One agent's run as the pipeline would have carried it: its actions' messages, and the agent's report if it sent one.</summary>
sealed class SeededRun(string runId, string agentId)
{
    public string RunId { get; } = runId;
    public string AgentId { get; } = agentId;
    public List<SeededAction> Actions { get; } = [];
    public RunCompleted? Report { get; set; }
    public DateTimeOffset ReportedAt { get; set; }
    public string ReportMessageId { get; set; } = "";
}

/// <summary>
/// Every message one action produced, in the order the services publish them. The first decision is
/// the policy evaluator's own verdict on the proposal (or an admission refusal: rate or budget).
/// </summary>
sealed class SeededAction
{
    public required ActionProposed Proposal { get; init; }
    public required string ProposalMessageId { get; init; }
    public required DateTimeOffset ProposedAt { get; init; }
    public required PolicyDecision Verdict { get; init; }
    public required ActionDecided Decided { get; init; }
    public required string Operation { get; init; }
    public required string ArgumentsHash { get; init; }
    public decimal EstimatedCostUsd { get; init; }

    public ApprovalRequested? ApprovalRequested { get; set; }
    public ApprovalVoteRecorded? Vote { get; set; }
    public ApprovalGranted? Granted { get; set; }
    public ApprovalDenied? ApprovalDenied { get; set; }
    public ApprovalConsumed? Consumed { get; set; }
    public ActionDecided? FinalDecision { get; set; }

    public ExecuteTool? Authorized { get; set; }
    public ActionSucceeded? Succeeded { get; set; }
    public ActionFailed? Failed { get; set; }

    public bool Admitted => Decided.Decision != Decision.Denied;

    public bool Executed => Authorized is not null;

    public DateTimeOffset? OutcomeAt => Succeeded?.CompletedAt ?? Failed?.FailedAt;

    public string? OutcomeName => Succeeded is not null ? "succeeded" : Failed is { OutcomeUnknown: true } ? "outcome_unknown" : Failed is not null ? "failed" : null;

    public JsonElement? OutcomeMessage => Succeeded is not null ? Wire(Succeeded) : Failed is not null ? Wire(Failed) : null;

    public DateTimeOffset LastAt => new[] { ProposedAt, Decided.DecidedAt, Vote?.CastAt ?? default, FinalDecision?.DecidedAt ?? default, OutcomeAt ?? default }.Max();

    static JsonElement Wire<T>(T message) => JsonSerializer.SerializeToElement(message, AgentBus.ServiceDefaults.Messaging.WireJson.Options);
}
