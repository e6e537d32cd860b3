using System.Text;
using AgentBus.Operations.Broker;
using AgentBus.Contracts;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace AgentBus.IntegrationTests.Approvals;

/// <summary>The agentbus-approvals broker user, as provisioned: it may publish approval outcomes and nothing that causes execution.</summary>
[Collection(ApprovalsCollection.Name)]
public sealed class ApprovalsBrokerUserTests(ApprovalsFixture fixture)
{
    async Task<bool> CanPublishAsync(string user, string exchange)
    {
        await using var connection = await fixture.ConnectionFactoryFor(user).CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(true, true));
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await channel.BasicPublishAsync(exchange, "support-bot", false, new BasicProperties(), Encoding.UTF8.GetBytes("{}"), timeout.Token);
            return true;
        }
        catch (Exception ex) when (ex is OperationInterruptedException or AlreadyClosedException)
        {
            return false;
        }
    }

    [Theory]
    [InlineData(WireNames.ExecuteToolExchange)]
    [InlineData(WireNames.ActionDecidedExchange)]
    [InlineData(WireNames.RepliesExchange)]
    [InlineData(WireNames.ApprovalRequestedExchange)]
    [InlineData(WireNames.ConsumeApprovalExchange)]
    public async Task The_approvals_user_cannot_write_where_execution_or_decisions_come_from(string exchange) =>
        Assert.False(await CanPublishAsync(BrokerTopology.ApprovalsUser, exchange));

    [Fact]
    public async Task Approval_outcomes_come_from_the_approvals_user_only_and_agents_cannot_ask_for_approvals()
    {
        // (The policy user's right to publish requests and consumptions is exercised by every test that
        // calls RequestApprovalAsync or ConsumeAsync: they publish as agentbus-policy.)
        Assert.True(await CanPublishAsync(BrokerTopology.ApprovalsUser, WireNames.ApprovalGrantedExchange));
        Assert.False(await CanPublishAsync(BrokerTopology.PolicyUser, WireNames.ApprovalGrantedExchange));
        Assert.False(await CanPublishAsync("support-bot", WireNames.ApprovalRequestedExchange));
        Assert.False(await CanPublishAsync("support-bot", WireNames.ApprovalGrantedExchange));
        Assert.False(await CanPublishAsync(BrokerTopology.ExecutorUser("payments"), WireNames.ApprovalGrantedExchange));
    }
}
