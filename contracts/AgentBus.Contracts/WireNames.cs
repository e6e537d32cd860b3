namespace AgentBus.Contracts;

/// <summary>
/// The RabbitMQ names an agent or service must agree on. contracts/README.md documents the same
/// names for agents written in other languages; a test keeps the two in step.
/// </summary>
public static class WireNames
{
    public const string DefaultVirtualHost = "agentbus";

    public const string ContentType = "application/json";

    /// <summary>Fanout exchange agents publish <see cref="ActionProposed"/> to.</summary>
    public const string ProposalsExchange = "agentbus.proposals";

    /// <summary>Topic exchange every agent-facing event reaches, routed by agent id.</summary>
    public const string RepliesExchange = "agentbus.replies";

    /// <summary>
    /// Topic exchange routed by tool name; only the policy service may write to it. Each tool's
    /// queue binds its exact name; the audit reads each command from its tool's exchange.
    /// </summary>
    public const string ExecuteToolExchange = "agentbus.commands.execute-tool";

    public const string ActionDecidedExchange = "agentbus.events.action-decided";
    public const string ActionSucceededExchange = "agentbus.events.action-succeeded";
    public const string ActionFailedExchange = "agentbus.events.action-failed";

    /// <summary>Topic exchange for <see cref="OperatorActionTaken"/>, routed by action ("agent.suspend", "dlq.replay").</summary>
    public const string OperatorActionsExchange = "agentbus.events.operator-actions";

    /// <summary>
    /// Direct exchange through which operators put dead letters back, routed by queue name. Every
    /// queue a service consumes is bound to it under its own name; nothing else is.
    /// </summary>
    public const string ReplayExchange = "agentbus.replay";

    /// <summary>An executor claimed an action and is calling its tool; audit only, not agent-facing.</summary>
    public const string ExecutionStartedExchange = "agentbus.events.execution-started";

    /// <summary>Topic exchange (routed by reason code) for <see cref="PolicyFileRefused"/>; audit only, not agent-facing.</summary>
    public const string PolicyFileRefusedExchange = "agentbus.events.policy-file-refused";

    /// <summary>Fanout exchange agents publish <see cref="SpendReported"/> to.</summary>
    public const string SpendReportsExchange = "agentbus.spend-reports";

    // Approvals: internal to policy, the approvals service and projections; never bound to agent queues.
    // Topic exchanges routed by agent id. Policy turns an approval's outcome into the agent's final ActionDecided.
    public const string ApprovalRequestedExchange = "agentbus.events.approval-requested";

    /// <summary>The saga has committed a new approval (<see cref="ApprovalOpened"/>): policy then tells the agent approval_required.</summary>
    public const string ApprovalOpenedExchange = "agentbus.events.approval-opened";
    public const string ApprovalGrantedExchange = "agentbus.events.approval-granted";
    public const string ApprovalDeniedExchange = "agentbus.events.approval-denied";
    public const string ApprovalExpiredExchange = "agentbus.events.approval-expired";
    public const string ApprovalCancelledExchange = "agentbus.events.approval-cancelled";
    public const string ApprovalEscalatedExchange = "agentbus.events.approval-escalated";
    public const string ApprovalConsumedExchange = "agentbus.events.approval-consumed";
    public const string ApprovalConsumptionRefusedExchange = "agentbus.events.approval-consumption-refused";

    /// <summary>Each approver's counted answer (<see cref="ApprovalVoteRecorded"/>), for the audit only.</summary>
    public const string ApprovalVoteRecordedExchange = "agentbus.events.approval-vote-recorded";

    /// <summary>Topic exchange routed by agent id; only the policy service writes here (ConsumeApproval).</summary>
    public const string ConsumeApprovalExchange = "agentbus.commands.consume-approval";

    /// <summary>The approval saga's queue: approval requests, consumptions, votes, sweeps and cancellations.</summary>
    public const string ApprovalsQueue = "agentbus.approvals";

    /// <summary>The approvals service's queue of operator actions (suspensions cancel pending approvals).</summary>
    public const string ApprovalsOperatorActionsQueue = "agentbus.approvals.operator-actions";

    public const string PolicyProposalsQueue = "agentbus.policy.proposals";

    /// <summary>The policy service's copy of approval outcomes: it re-checks a grant, uses it, and tells the agent.</summary>
    public const string PolicyApprovalsQueue = "agentbus.policy.approvals";

    /// <summary>
    /// Retired: the policy service's copy of every outcome, from which it settled budgets until the
    /// projections took that over (they record every outcome anyway). `agentbus broker apply` deletes it.
    /// </summary>
    public const string RetiredPolicyOutcomesQueue = "agentbus.policy.outcomes";

    /// <summary>The policy service's queue of operators' resolutions of outcome-unknown actions ("action.resolve" operator actions).</summary>
    public const string PolicyResolutionsQueue = "agentbus.policy.resolutions";

    public const string PolicySpendReportsQueue = "agentbus.policy.spend-reports";
    public const string ProjectionsQueue = "agentbus.projections";

    /// <summary>Fanout exchange agents publish <see cref="RunCompleted"/> to.</summary>
    public const string RunReportsExchange = "agentbus.run-reports";

    /// <summary>The audit's own copy of every proposal, read as agent input (even malformed ones are recorded).</summary>
    public const string ProjectionsProposalsQueue = "agentbus.projections.proposals";

    /// <summary>Agents' run reports, read as agent input.</summary>
    public const string ProjectionsRunReportsQueue = "agentbus.projections.run-reports";

    public const string AgentReplyQueuePrefix = "agentbus.agent.";
    public const string ToolQueuePrefix = "agentbus.tool.";

    /// <summary>Exchanges whose events are also delivered to the agent they concern.</summary>
    public static IReadOnlyList<string> AgentFacingEventExchanges { get; } =
        [ActionDecidedExchange, ActionSucceededExchange, ActionFailedExchange];

    /// <summary>Exchanges of the approval saga's outcomes, for policy and projections.</summary>
    public static IReadOnlyList<string> ApprovalOutcomeExchanges { get; } =
    [
        ApprovalGrantedExchange, ApprovalDeniedExchange, ApprovalExpiredExchange, ApprovalCancelledExchange,
        ApprovalEscalatedExchange, ApprovalConsumedExchange, ApprovalConsumptionRefusedExchange,
    ];

    /// <summary>What policy acts on: the approval opened (it tells the agent), and the outcomes (not escalations: they change who may approve, nothing for policy).</summary>
    public static IReadOnlyList<string> PolicyApprovalExchanges { get; } =
    [
        ApprovalOpenedExchange, ApprovalGrantedExchange, ApprovalDeniedExchange, ApprovalExpiredExchange, ApprovalCancelledExchange,
        ApprovalConsumedExchange, ApprovalConsumptionRefusedExchange,
    ];

    /// <summary>Every approval exchange the audit records: the request, each answer, every outcome.</summary>
    public static IReadOnlyList<string> AuditedApprovalExchanges { get; } =
        [ApprovalRequestedExchange, ApprovalVoteRecordedExchange, .. ApprovalOutcomeExchanges];

    public static string AgentReplyQueue(string agentId) => AgentReplyQueuePrefix + agentId;

    public static string ToolQueue(string tool) => ToolQueuePrefix + tool;
}
