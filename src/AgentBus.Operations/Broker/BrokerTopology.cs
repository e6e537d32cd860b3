using System.Text.RegularExpressions;
using AgentBus.Contracts;

namespace AgentBus.Operations.Broker;

/// <summary>
/// Who may do what on the broker, as code: one user per role, each with the narrowest rights its
/// work needs. Agents can only publish proposals and read their own reply queue; only the policy
/// service can write to a tool's exchange; an executor can only read its own tool's queue. Agents
/// may also publish their run reports.
/// </summary>
public static class BrokerTopology
{
    public const string PolicyUser = AgentBus.ServiceDefaults.Messaging.BrokerIdentity.PolicyUser;
    public const string ProjectionsUser = "agentbus-projections";
    public const string ApprovalsUser = "agentbus-approvals";
    public const string OperatorUser = AgentBus.ServiceDefaults.Messaging.BrokerIdentity.OperatorUser;
    public const string ReservedPrefix = "agentbus-";

    public static string ExecutorUser(string tool) => AgentBus.ServiceDefaults.Messaging.BrokerIdentity.ExecutorUser(tool);

    public static IReadOnlyList<BrokerUser> Users(IEnumerable<string> agents, IEnumerable<string> tools)
    {
        var users = new List<BrokerUser>
        {
            new(PolicyUser, "", new Permissions(
                Configure: @"^agentbus\.policy\..+$",
                // Outcomes too: a duplicate proposal gets a copy of the first action's outcome.
                Write: @"^agentbus\.(policy\..+|events\.action-(decided|succeeded|failed)|commands\.execute-tool|events\.approval-requested|commands\.consume-approval|events\.policy-file-refused)$",
                Read: @"^agentbus\.policy\..+$"), "policy service"),
            new(ProjectionsUser, "", new Permissions(
                Configure: @"^agentbus\.projections.*$",
                Write: @"^agentbus\.projections.*$",
                Read: @"^agentbus\.projections.*$"), "projections"),
            // Its own queues (the saga's, operator actions, the temporary reply queue of its bus) and the
            // approval outcome exchanges; it cannot write to executors, agents or the policy's queues.
            new(ApprovalsUser, "", new Permissions(
                Configure: @"^agentbus\.approvals(\..+)?(_error|_skipped)?$",
                Write: @"^agentbus\.(approvals(\..+)?(_error|_skipped)?|events\.approval-(opened|granted|denied|expired|cancelled|escalated|consumed|consumption-refused|vote-recorded))$",
                Read: @"^agentbus\.approvals(\..+)?(_error|_skipped)?$"), "approvals service"),
            // Operators read dead letters, put them back through the replay exchange (never straight
            // into a command or event exchange) and record what they did; the management tag lets
            // them list queues. Anything beyond that is the RabbitMQ administrator's.
            new(OperatorUser, "management", new Permissions(
                Configure: Permissions.Nothing,
                Write: $@"^({Regex.Escape(WireNames.ReplayExchange)}|{Regex.Escape(WireNames.OperatorActionsExchange)})$",
                Read: @"^agentbus\..+_(error|skipped)$"), "operators"),
        };

        foreach (var tool in tools.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            var queue = Regex.Escape(WireNames.ToolQueue(tool));
            // No write on the queue's own name (the endpoint does not bind it, see
            // ExecuteToolConsumerDefinition): an executor cannot put a command into its own queue.
            // Read on _error/_skipped is for binding them, which MassTransit does on the first fault.
            users.Add(new(ExecutorUser(tool), "", new Permissions(
                Configure: $@"^{queue}(_error|_skipped)?$",
                Write: $@"^({queue}_(error|skipped)|agentbus\.events\.(action-(succeeded|failed)|execution-started))$",
                Read: $@"^{queue}(_error|_skipped)?$"), $"executor for {tool}"));
        }

        foreach (var agent in agents.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
            users.Add(new(agent, "", new Permissions(
                Configure: Permissions.Nothing,
                Write: $"^({Regex.Escape(WireNames.ProposalsExchange)}|{Regex.Escape(WireNames.SpendReportsExchange)}|{Regex.Escape(WireNames.RunReportsExchange)})$",
                Read: $"^{Regex.Escape(WireNames.AgentReplyQueue(agent))}$"), "agent"));

        return users;
    }
}

public sealed record BrokerUser(string Name, string Tags, Permissions Permissions, string Role)
{
    public bool IsAgent => Role == "agent";
}
