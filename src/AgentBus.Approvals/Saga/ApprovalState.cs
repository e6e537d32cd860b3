using System.Text.Json;
using AgentBus.Contracts;
using MassTransit;

namespace AgentBus.Approvals.Saga;

/// <summary>One approval: the exact action it is for, who may approve, the votes so far, and how it ended.</summary>
public sealed class ApprovalState : SagaStateMachineInstance, ISagaVersion
{
    public Guid CorrelationId { get; set; }
    public int Version { get; set; }
    public string? CurrentState { get; set; }

    // The binding: a grant is for this action, with these arguments, only.
    public string ActionId { get; set; } = "";
    public string RunId { get; set; } = "";
    public string AgentId { get; set; } = "";
    public string AgentTeam { get; set; } = "";
    public string Tool { get; set; } = "";
    public string ArgumentsHash { get; set; } = "";
    public JsonElement Arguments { get; set; } = EmptyObject;
    public string? IdempotencyKey { get; set; }
    public JsonElement? Current { get; set; }

    // The rule that asked.
    public string RuleId { get; set; } = "";
    public string ApproverGroup { get; set; } = "";
    public int Quorum { get; set; } = 1;
    public List<string> ExcludedApprovers { get; set; } = [];
    public string RequestedBy { get; set; } = "";
    public DateTimeOffset RequestedAt { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }
    public string? EscalationGroup { get; set; }
    public DateTimeOffset? EscalateAt { get; set; }
    public DateTimeOffset? EscalatedAt { get; set; }
    public string? PolicyVersion { get; set; }
    public string? Intent { get; set; }

    public List<ApprovalVote> Votes { get; set; } = [];

    // How it ended.
    public DateTimeOffset? DecidedAt { get; set; }
    public string? DecidedBy { get; set; }
    public string? DecisionReason { get; set; }
    public DateTimeOffset? ConsumableUntil { get; set; }
    public Guid? ConsumptionId { get; set; }
    public DateTimeOffset? ConsumedAt { get; set; }

    public IReadOnlyList<string> Approvers =>
        Votes.Where(v => v.Verdict == ApprovalVerdict.Approve).Select(v => v.Approver).ToList();

    static readonly JsonElement EmptyObject = JsonDocument.Parse("{}").RootElement.Clone();
}

public sealed record ApprovalVote(
    Guid VoteId,
    string Approver,
    ApprovalVerdict Verdict,
    string? Comment,
    DateTimeOffset CastAt,
    bool ThroughEscalation);
