using System.Text.RegularExpressions;
using AgentBus.Operations.Broker;
using AgentBus.Contracts;
using AgentBus.ServiceDefaults.Messaging;

namespace AgentBus.UnitTests.Broker;

/// <summary>
/// The permission regexes as RabbitMQ applies them (one pattern per right, matched against the
/// resource name, whether exchange or queue). The integration tests try them on the real broker;
/// these say at a glance which names each role can touch.
/// </summary>
public class BrokerTopologyTests
{
    static readonly IReadOnlyList<BrokerUser> Users = BrokerTopology.Users(["support-bot", "odd.agent+1"], ["ticketing", "payments"]);

    static BrokerUser User(string name) => Users.Single(u => u.Name == name);

    static bool Can(string pattern, string resource) => Regex.IsMatch(resource, pattern);

    [Fact]
    public void The_operator_user_is_the_one_services_trust_for_replays() =>
        Assert.Equal(BrokerIdentity.OperatorUser, BrokerTopology.OperatorUser);

    [Theory]
    [InlineData(WireNames.ExecuteToolExchange, false)]
    [InlineData("agentbus.tool.ticketing", false)]
    [InlineData("agentbus.tool.ticketing_error", true)]
    [InlineData(WireNames.ActionSucceededExchange, true)]
    [InlineData(WireNames.ActionDecidedExchange, false)]
    [InlineData(WireNames.ReplayExchange, false)]
    public void An_executor_writes_outcomes_and_its_own_dead_letters_only(string resource, bool allowed) =>
        Assert.Equal(allowed, Can(User(BrokerTopology.ExecutorUser("ticketing")).Permissions.Write, resource));

    [Theory]
    [InlineData("agentbus.tool.ticketing", true)]
    [InlineData("agentbus.tool.payments", false)]
    [InlineData("agentbus.tool.ticketingx", false)]
    public void An_executor_reads_its_own_tool_queue_only(string resource, bool allowed) =>
        Assert.Equal(allowed, Can(User(BrokerTopology.ExecutorUser("ticketing")).Permissions.Read, resource));

    [Theory]
    [InlineData(WireNames.ReplayExchange, true)]
    [InlineData(WireNames.OperatorActionsExchange, true)]
    [InlineData(WireNames.ExecuteToolExchange, false)]
    [InlineData(WireNames.ProposalsExchange, false)]
    [InlineData("agentbus.tool.payments", false)]
    public void The_operator_writes_replays_and_operator_actions_only(string resource, bool allowed) =>
        Assert.Equal(allowed, Can(User(BrokerTopology.OperatorUser).Permissions.Write, resource));

    [Theory]
    [InlineData("agentbus.policy.proposals_error", true)]
    [InlineData("agentbus.tool.payments_skipped", true)]
    [InlineData("agentbus.tool.payments", false)]
    [InlineData("agentbus.agent.support-bot", false)]
    public void The_operator_reads_dead_letters_only(string resource, bool allowed) =>
        Assert.Equal(allowed, Can(User(BrokerTopology.OperatorUser).Permissions.Read, resource));

    [Fact]
    public void Only_the_policy_service_may_write_to_the_command_exchange() =>
        Assert.Equal([BrokerTopology.PolicyUser], Users.Where(u => Can(u.Permissions.Write, WireNames.ExecuteToolExchange)).Select(u => u.Name));

    [Fact]
    public void Agent_names_are_matched_literally()
    {
        var agent = User("odd.agent+1");
        Assert.True(Can(agent.Permissions.Read, "agentbus.agent.odd.agent+1"));
        Assert.False(Can(agent.Permissions.Read, "agentbus.agent.oddXagent1"));
        Assert.Equal(Permissions.Nothing, agent.Permissions.Configure);
    }
}
