using System.Text.Json;
using System.Text.Json.Serialization;
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

    /// <summary>The catalog operation approvers are asked about (refund of payments.refund); null for a generic tool. Policy executes the one it recorded.</summary>
    public string? Operation { get; set; }

    public string ArgumentsHash { get; set; } = "";
    /// <summary>
    /// The arguments exactly as requested, kept as text: the row's JSONB would reorder their keys and
    /// normalise their numbers, and what runs must be what people approved, byte for byte.
    /// </summary>
    public string ArgumentsJson { get; set; } = "{}";
    public string? IdempotencyKey { get; set; }
    public string? CurrentJson { get; set; }

    [JsonIgnore]
    public JsonElement Arguments
    {
        get => JsonSerializer.Deserialize<JsonElement>(ArgumentsJson);
        set => ArgumentsJson = value.GetRawText();
    }

    [JsonIgnore]
    public JsonElement? Current
    {
        get => CurrentJson is null ? null : JsonSerializer.Deserialize<JsonElement>(CurrentJson);
        set => CurrentJson = value is { ValueKind: not JsonValueKind.Undefined } element ? element.GetRawText() : null;
    }

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

    [JsonIgnore]
    public IReadOnlyList<string> Approvers =>
        Votes.Where(v => v.Verdict == ApprovalVerdict.Approve).Select(v => v.Approver).ToList();
}

public sealed record ApprovalVote(
    Guid VoteId,
    string Approver,
    ApprovalVerdict Verdict,
    string? Comment,
    DateTimeOffset CastAt,
    bool ThroughEscalation);
