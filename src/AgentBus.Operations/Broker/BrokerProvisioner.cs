using AgentBus.Contracts;
using AgentBus.Operations.DeadLetters;

namespace AgentBus.Operations.Broker;

public sealed record ProvisionedUser(BrokerUser User, string PasswordFile);

/// <param name="DeliveryLimit">Deliveries without an acknowledgement before the broker moves a message to its _error queue.</param>
/// <param name="Amqp">Where classic queues' messages are moved from, when an older installation still has them.</param>
/// <param name="Progress">One line per converted queue.</param>
public sealed record BrokerApplyOptions(int DeliveryLimit = BrokerQueues.DefaultDeliveryLimit, BrokerAddress? Amqp = null, Action<string>? Progress = null);

public sealed record BrokerApplyResult(IReadOnlyList<ProvisionedUser> Users, IReadOnlyList<MigratedQueue> Migrated);

/// <summary>
/// Applies the vhost, users, permissions and the agent-facing topology. Queues and exchanges that
/// agents depend on are declared here, not by the services, so an agent can publish (and its
/// replies can wait for it) before any service has ever started. Every queue is a quorum queue
/// with a delivery limit (<see cref="BrokerQueues"/>); classic queues of an older installation are
/// converted first (<see cref="QuorumMigration"/>).
/// </summary>
public sealed class BrokerProvisioner(RabbitMqManagementClient api, SecretStore secrets, string adminUser, BrokerApplyOptions? options = null)
{
    readonly BrokerApplyOptions _options = options ?? new();

    public async Task<BrokerApplyResult> ApplyAsync(string vhost, IReadOnlyCollection<string> agents,
        IReadOnlyCollection<string> tools, CancellationToken ct)
    {
        if (_options.DeliveryLimit < 1)
            throw new BrokerProvisioningException($"The delivery limit must be at least 1 (got {_options.DeliveryLimit}).");
        await api.PutVirtualHostAsync(vhost, ct);
        await api.PutPermissionsAsync(vhost, adminUser, new Permissions(".*", ".*", ".*"), ct);
        var migrated = await new QuorumMigration(api, _options.Amqp, _options.Progress).RunAsync(vhost, ct);

        var provisioned = new List<ProvisionedUser>();
        foreach (var user in BrokerTopology.Users(agents, tools))
        {
            var password = secrets.GetOrCreate("rabbitmq", user.Name);
            await api.PutUserAsync(user.Name, password, user.Tags, ct);
            await api.PutPermissionsAsync(vhost, user.Name, user.Permissions, ct);
            provisioned.Add(new(user, secrets.PathFor("rabbitmq", user.Name)));
        }

        await api.PutExchangeAsync(vhost, WireNames.ProposalsExchange, "fanout", ct);
        await api.PutExchangeAsync(vhost, WireNames.ExecuteToolExchange, "topic", ct);
        await api.PutExchangeAsync(vhost, WireNames.RepliesExchange, "topic", ct);
        await api.PutExchangeAsync(vhost, WireNames.ReplayExchange, "direct", ct);

        // Shaped as MassTransit declares a receive endpoint (an exchange named after the queue, bound
        // to it), so the service's own declaration later matches instead of conflicting.
        await DeclareEndpointAsync(vhost, WireNames.PolicyProposalsQueue, ct);
        await api.BindExchangeAsync(vhost, WireNames.ProposalsExchange, WireNames.PolicyProposalsQueue, "", ct);
        await DeclareEndpointAsync(vhost, WireNames.ProjectionsQueue, ct);

        await api.PutExchangeAsync(vhost, WireNames.SpendReportsExchange, "fanout", ct);
        await DeclareEndpointAsync(vhost, WireNames.PolicySpendReportsQueue, ct);
        await api.BindExchangeAsync(vhost, WireNames.SpendReportsExchange, WireNames.PolicySpendReportsQueue, "", ct);
        // Until 2026-12 the policy service settled budgets from its own copy of every outcome; the
        // projections settle them as they record them now. Left in place, the queue would fill with
        // outcomes nobody reads (its _error queue stays, for whatever an operator still has to look at).
        await api.DeleteQueueAsync(vhost, WireNames.RetiredPolicyOutcomesQueue, ct);
        await api.DeleteExchangeAsync(vhost, WireNames.RetiredPolicyOutcomesQueue, ct);

        foreach (var exchange in WireNames.AgentFacingEventExchanges)
        {
            await api.PutExchangeAsync(vhost, exchange, "topic", ct);
            await api.BindExchangeAsync(vhost, exchange, WireNames.RepliesExchange, "#", ct);
            await api.BindExchangeAsync(vhost, exchange, WireNames.ProjectionsQueue, "#", ct);
        }

        await api.PutExchangeAsync(vhost, WireNames.OperatorActionsExchange, "topic", ct);
        await api.BindExchangeAsync(vhost, WireNames.OperatorActionsExchange, WireNames.ProjectionsQueue, "#", ct);
        // Operators' resolutions of outcome-unknown actions: the policy service records and publishes them.
        await DeclareEndpointAsync(vhost, WireNames.PolicyResolutionsQueue, ct);
        await api.BindExchangeAsync(vhost, WireNames.OperatorActionsExchange, WireNames.PolicyResolutionsQueue,
            OperatorActionNames.ResolveAction, ct);
        // Audit-only events: the projections record them, no agent queue receives them.
        await api.PutExchangeAsync(vhost, WireNames.ExecutionStartedExchange, "topic", ct);
        await api.BindExchangeAsync(vhost, WireNames.ExecutionStartedExchange, WireNames.ProjectionsQueue, "#", ct);
        await api.PutExchangeAsync(vhost, WireNames.PolicyFileRefusedExchange, "topic", ct);
        await api.BindExchangeAsync(vhost, WireNames.PolicyFileRefusedExchange, WireNames.ProjectionsQueue, "#", ct);

        await ApplyApprovalsAsync(vhost, ct);

        foreach (var tool in tools)
        {
            await DeclareEndpointAsync(vhost, WireNames.ToolQueue(tool), ct);
            await api.BindExchangeAsync(vhost, WireNames.ExecuteToolExchange, WireNames.ToolQueue(tool), tool, ct);
            // Until 2026-12 the audit read its own copy of every command from the tool's exchange; it
            // records each from the row the policy service keeps now (one delivery fewer per action).
            await api.UnbindExchangeAsync(vhost, WireNames.ToolQueue(tool), WireNames.ProjectionsQueue, "", ct);
        }

        // The audit's own copies of what agents write: every proposal, every run report.
        await api.PutExchangeAsync(vhost, WireNames.RunReportsExchange, "fanout", ct);
        await DeclareEndpointAsync(vhost, WireNames.ProjectionsProposalsQueue, ct);
        await api.BindExchangeAsync(vhost, WireNames.ProposalsExchange, WireNames.ProjectionsProposalsQueue, "", ct);
        await DeclareEndpointAsync(vhost, WireNames.ProjectionsRunReportsQueue, ct);
        await api.BindExchangeAsync(vhost, WireNames.RunReportsExchange, WireNames.ProjectionsRunReportsQueue, "", ct);

        foreach (var agent in agents)
        {
            var replies = WireNames.AgentReplyQueue(agent);
            await api.PutQueueAsync(vhost, replies, ct);
            await api.BindQueueAsync(vhost, WireNames.RepliesExchange, replies, agent, ct);
            // An agent that crashes on a reply gets it back only so often; operators can put it back.
            await DeclareDeadLettersAsync(vhost, replies, ct);
            await api.BindQueueAsync(vhost, WireNames.ReplayExchange, replies, replies, ct);
        }

        return new BrokerApplyResult(provisioned, migrated);
    }

    /// <summary>
    /// Approval messages stay among policy, the approvals service and projections: requests and
    /// consumptions reach the saga's queue; operator actions reach the approvals service (it acts on
    /// agent.suspend and tool.suspend); outcomes reach policy's own queue (it re-checks a grant, uses
    /// it and answers the agent); the audit records the request, every answer and every outcome.
    /// </summary>
    async Task ApplyApprovalsAsync(string vhost, CancellationToken ct)
    {
        await api.PutExchangeAsync(vhost, WireNames.ApprovalRequestedExchange, "topic", ct);
        await api.PutExchangeAsync(vhost, WireNames.ConsumeApprovalExchange, "topic", ct);
        foreach (var exchange in WireNames.ApprovalOutcomeExchanges)
            await api.PutExchangeAsync(vhost, exchange, "topic", ct);
        await api.PutExchangeAsync(vhost, WireNames.ApprovalVoteRecordedExchange, "topic", ct);
        await api.PutExchangeAsync(vhost, WireNames.ApprovalOpenedExchange, "topic", ct);

        await DeclareEndpointAsync(vhost, WireNames.PolicyApprovalsQueue, ct);
        foreach (var exchange in WireNames.PolicyApprovalExchanges)
            await api.BindExchangeAsync(vhost, exchange, WireNames.PolicyApprovalsQueue, "#", ct);
        foreach (var exchange in WireNames.AuditedApprovalExchanges)
            await api.BindExchangeAsync(vhost, exchange, WireNames.ProjectionsQueue, "#", ct);

        await DeclareEndpointAsync(vhost, WireNames.ApprovalsQueue, ct);
        await api.BindExchangeAsync(vhost, WireNames.ApprovalRequestedExchange, WireNames.ApprovalsQueue, "#", ct);
        await api.BindExchangeAsync(vhost, WireNames.ConsumeApprovalExchange, WireNames.ApprovalsQueue, "#", ct);

        await DeclareEndpointAsync(vhost, WireNames.ApprovalsOperatorActionsQueue, ct);
        await api.BindExchangeAsync(vhost, WireNames.OperatorActionsExchange, WireNames.ApprovalsOperatorActionsQueue, "agent.suspend", ct);
        await api.BindExchangeAsync(vhost, WireNames.OperatorActionsExchange, WireNames.ApprovalsOperatorActionsQueue, "tool.suspend", ct);
    }

    /// <summary>
    /// A queue a service consumes, with the exchange MassTransit names after it, and its binding
    /// from the replay exchange under its own name, so operators can put its dead letters back.
    /// </summary>
    async Task DeclareEndpointAsync(string vhost, string queue, CancellationToken ct)
    {
        await api.PutExchangeAsync(vhost, queue, "fanout", ct);
        await api.PutQueueAsync(vhost, queue, ct);
        await api.BindQueueAsync(vhost, queue, queue, "", ct);
        await api.BindQueueAsync(vhost, WireNames.ReplayExchange, queue, queue, ct);
        await DeclareDeadLettersAsync(vhost, queue, ct);
    }

    /// <summary>
    /// The queue's _error exchange and queue, shaped as MassTransit declares them on a fault (a
    /// fanout exchange bound to a queue of the same name, the same queue type), declared up front
    /// because the broker dead-letters there too (the delivery limit's policy), before any fault.
    /// </summary>
    async Task DeclareDeadLettersAsync(string vhost, string queue, CancellationToken ct)
    {
        var errors = queue + DeadLetterQueues.ErrorSuffix;
        await api.PutExchangeAsync(vhost, errors, "fanout", ct);
        await api.PutQueueAsync(vhost, errors, ct);
        await api.BindQueueAsync(vhost, errors, errors, "", ct);
        await api.PutPolicyAsync(vhost, BrokerQueues.DeadLetterPolicyName(queue), $"^{System.Text.RegularExpressions.Regex.Escape(queue)}$",
            BrokerQueues.DeadLetterPolicy(queue, _options.DeliveryLimit), ct);
    }
}
