using System.Text;
using AgentBus.Contracts;
using AgentBus.ServiceDefaults.Messaging;
using RabbitMQ.Client;

namespace AgentBus.UnitTests.Messaging;

public class BrokerIdentityTests
{
    static BasicProperties Properties(string? userId, string? header = null)
    {
        var properties = new BasicProperties { Headers = new Dictionary<string, object?>() };
        if (userId is not null)
            properties.UserId = userId;
        if (header is not null)
            properties.Headers[BrokerIdentity.OriginalUserIdHeader] = Encoding.UTF8.GetBytes(header);
        return properties;
    }

    [Fact]
    public void The_sender_is_the_user_id_RabbitMQ_validated()
    {
        Assert.Equal("support-bot", BrokerIdentity.Sender(Properties("support-bot"), WireNames.ProposalsExchange));
        Assert.Null(BrokerIdentity.Sender(Properties(null), WireNames.ProposalsExchange));
    }

    [Fact]
    public void An_agent_setting_the_identity_header_gains_nothing()
    {
        Assert.Equal("intern-bot", BrokerIdentity.Sender(Properties("intern-bot", header: "support-bot"), WireNames.ProposalsExchange));
        Assert.Null(BrokerIdentity.Sender(Properties(null, header: "support-bot"), WireNames.ProposalsExchange));
    }

    [Fact]
    public void The_header_counts_only_from_the_operator_through_the_replay_exchange()
    {
        Assert.Equal("support-bot", BrokerIdentity.Sender(Properties(BrokerIdentity.OperatorUser, header: "support-bot"), WireNames.ReplayExchange));
        Assert.Null(BrokerIdentity.Sender(Properties(BrokerIdentity.OperatorUser), WireNames.ReplayExchange));
        Assert.Equal(BrokerIdentity.OperatorUser,
            BrokerIdentity.Sender(Properties(BrokerIdentity.OperatorUser, header: "support-bot"), WireNames.ProposalsExchange));
        Assert.Equal("intern-bot", BrokerIdentity.Sender(Properties("intern-bot", header: "support-bot"), WireNames.ReplayExchange));
    }

    [Fact]
    public void A_dead_letter_loses_its_user_id_and_keeps_the_validated_sender_in_the_header()
    {
        var moved = MoveWithoutBrokerUserId.DeadLetterProperties(Properties("support-bot"), WireNames.ProposalsExchange);

        Assert.False(moved.IsUserIdPresent());
        Assert.Equal("support-bot", BrokerIdentity.HeaderText(moved, BrokerIdentity.OriginalUserIdHeader));
    }

    [Fact]
    public void A_dead_letter_without_user_id_loses_a_header_its_publisher_wrote()
    {
        var forged = Properties(null, header: "support-bot");
        forged.Headers!["agentbus-broker-user-id"] = "support-bot";

        var moved = MoveWithoutBrokerUserId.DeadLetterProperties(forged, WireNames.ProposalsExchange);

        Assert.DoesNotContain(moved.Headers!.Keys, key => key.Equals(BrokerIdentity.OriginalUserIdHeader, StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void Headers_that_differ_only_in_case_do_not_stop_the_move()
    {
        var properties = Properties("support-bot");
        properties.Headers!["x-trace"] = "a";
        properties.Headers["X-Trace"] = "b";

        var moved = MoveWithoutBrokerUserId.DeadLetterProperties(properties, WireNames.ProposalsExchange);

        Assert.Equal(("a", "b"), (moved.Headers!["x-trace"], moved.Headers["X-Trace"]));
    }

    [Fact]
    public void A_replayed_message_that_fails_again_keeps_the_original_sender()
    {
        var replayed = Properties(BrokerIdentity.OperatorUser, header: "support-bot");

        var moved = MoveWithoutBrokerUserId.DeadLetterProperties(replayed, WireNames.ReplayExchange);

        Assert.False(moved.IsUserIdPresent());
        Assert.Equal("support-bot", BrokerIdentity.HeaderText(moved, BrokerIdentity.OriginalUserIdHeader));
    }
}
