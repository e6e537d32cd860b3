using System.Text.Json;

namespace AgentBus.Audit.Stories;

/// <summary>
/// One run told from the audit log: every action with its decision, approvals, authorization,
/// execution and outcome, plus what the agents reported and the totals. Serializes as the JSON the
/// approval service serves for its inbox page. Arguments and results are the redacted copies.
/// </summary>
public sealed record RunStory(
    string RunId,
    string Status,
    DateTimeOffset StartedAt,
    DateTimeOffset LastEventAt,
    IReadOnlyList<RunAgent> Agents,
    IReadOnlyList<ActionStory> Actions,
    IReadOnlyList<StoryStep> RunEvents,
    RunTotals Totals,
    RunStory? Rollback = null);

/// <summary>An agent's part in the run and its own report of how the run ended (null until it reports).</summary>
public sealed record RunAgent(
    string AgentId,
    DateTimeOffset FirstEventAt,
    DateTimeOffset LastEventAt,
    bool? Succeeded,
    DateTimeOffset? CompletedAt,
    string? Summary,
    decimal CostUsd);

public sealed record ActionStory(
    string ActionId,
    string? AgentId,
    string? Tool,
    string Status,
    string? Intent,
    JsonElement? Arguments,
    DateTimeOffset FirstEventAt,
    string? Decision,
    string? ReasonCode,
    string? Reason,
    string? RuleId,
    string? PolicyVersion,
    IReadOnlyList<ApprovalAnswer> Approvals,
    DateTimeOffset? AuthorizedAt,
    string? Executor,
    DateTimeOffset? FinishedAt,
    string? ExternalReference,
    string? ErrorCode,
    string? Error,
    long? DurationMs,
    decimal CostUsd,
    IReadOnlyList<StoryStep> Steps,
    string? Undoes = null);

/// <summary>An approval event: the request, each approver's answer, expiry or cancellation.</summary>
public sealed record ApprovalAnswer(string EventType, string Answer, string? By, DateTimeOffset At);

/// <summary>One audit row, in the story's terms. <see cref="Stage"/> orders the steps of an action.</summary>
public sealed record StoryStep(
    long Seq,
    Guid EventId,
    string Stage,
    string EventType,
    DateTimeOffset At,
    string Outcome,
    string? Actor,
    string? ReasonCode,
    string? RuleId,
    string? PolicyVersion,
    string? ExternalReference,
    decimal? CostUsd,
    JsonElement Payload);

public sealed record RunTotals(
    int Actions,
    int Allowed,
    int Denied,
    int PendingApproval,
    int Authorized,
    int Succeeded,
    int Failed,
    int OutcomeUnknown,
    int Refused,
    decimal CostUsd,
    TimeSpan Duration);

public static class StoryStages
{
    public const string Proposal = "proposal";
    public const string Decision = "decision";
    public const string Approval = "approval";
    public const string Authorization = "authorization";
    public const string Execution = "execution";
    public const string Outcome = "outcome";
    public const string Report = "report";
    public const string Other = "other";

    public static string Of(string eventType) => eventType switch
    {
        "ActionProposed" => Proposal,
        "ActionDecided" => Decision,
        "ExecuteTool" => Authorization,
        "ExecutionStarted" => Execution,
        "ActionSucceeded" or "ActionFailed" => Outcome,
        "RunCompleted" => Report,
        _ when eventType.StartsWith("Approval", StringComparison.Ordinal) => Approval,
        _ => Other,
    };

    public static int Rank(string stage) => stage switch
    {
        Proposal => 0,
        Decision => 1,
        Approval => 2,
        Authorization => 3,
        Execution => 4,
        Outcome => 5,
        _ => 6,
    };
}
