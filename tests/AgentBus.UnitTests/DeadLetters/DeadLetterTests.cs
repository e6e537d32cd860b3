using System.Text;
using AgentBus.Operations.DeadLetters;
using AgentBus.ServiceDefaults.Messaging;
using RabbitMQ.Client;

namespace AgentBus.UnitTests.DeadLetters;

public class DeadLetterTests
{
    static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    // As RabbitMQ.Client delivers what MassTransit's error transport wrote (strings arrive as bytes).
    static BasicProperties Faulted() => new()
    {
        MessageId = "67e28816-6a30-49b5-a75b-d67c2d1b37a7",
        Type = "ActionProposed",
        ContentType = "application/json",
        Timestamp = new AmqpTimestamp(1_795_529_338),
        Headers = new Dictionary<string, object?>
        {
            ["x-dotnet-pub-seq-no"] = 13L,
            [BrokerIdentity.OriginalUserIdHeader] = Utf8("support-bot"),
            ["MT-Host-MachineName"] = Utf8("vm"),
            ["MT-Reason"] = Utf8("fault"),
            ["MT-Fault-ExceptionType"] = Utf8("RabbitMQ.Client.Exceptions.PublishReturnException"),
            ["MT-Fault-InputAddress"] = Utf8("rabbitmq://127.0.0.1/agentbus/agentbus.policy.proposals"),
            ["MT-Fault-Message"] = Utf8("312 NO_ROUTE Exchange: agentbus.commands.execute-tool Routing Key: payments"),
            ["MT-Fault-Timestamp"] = Utf8("2026-11-24T14:09:06.8650297Z"),
            ["MT-Fault-StackTrace"] = Utf8("   at ..."),
            ["MT-Fault-ConsumerType"] = Utf8("AgentBus.Policy.Proposals.ProposalConsumer"),
            ["MT-Fault-MessageType"] = Utf8("AgentBus.Contracts.ActionProposed"),
            ["MT-Fault-RetryCount"] = 5,
        },
    };

    static readonly byte[] Body = Utf8("""{"actionId":"0193e3c2-6f1a-7c3b-9d4e-2a1b3c4d5e6f","runId":"run-7","agentId":"support-bot","tool":"payments","arguments":{}}""");

    [Fact]
    public void Fault_headers_are_read_as_MassTransit_writes_them()
    {
        var dead = DeadLetter.Read("agentbus.policy.proposals_error", 7, Faulted(), Body);

        Assert.Equal("67e28816-6a30-49b5-a75b-d67c2d1b37a7", dead.MessageId);
        Assert.Equal("ActionProposed", dead.MessageType);
        Assert.Equal("RabbitMQ.Client.Exceptions.PublishReturnException", dead.Failure);
        Assert.StartsWith("312 NO_ROUTE", dead.ExceptionMessage);
        Assert.Equal("AgentBus.Policy.Proposals.ProposalConsumer", dead.ConsumerType);
        Assert.Equal(5, dead.RetryCount);
        Assert.Equal(new DateTimeOffset(2026, 11, 24, 14, 9, 6, TimeSpan.Zero), dead.FaultedAt!.Value.AddTicks(-dead.FaultedAt.Value.Ticks % TimeSpan.TicksPerSecond));
        Assert.Equal(("0193e3c2-6f1a-7c3b-9d4e-2a1b3c4d5e6f", "run-7"), (dead.ActionId, dead.RunId));
        Assert.Equal("support-bot", dead.OriginalSender);
        Assert.Equal(DeadLetter.GroupIdFor(dead.Failure, dead.MessageType), dead.GroupId);
        Assert.Equal(8, dead.GroupId.Length);
    }

    [Fact]
    public void A_message_with_no_fault_headers_or_a_broken_body_still_reads()
    {
        var dead = DeadLetter.Read("agentbus.projections_skipped", 1,
            new BasicProperties { Headers = new Dictionary<string, object?> { ["MT-Reason"] = Utf8("dead-letter") } }, Utf8("not json"));

        Assert.StartsWith("(skipped", dead.Failure);
        Assert.Equal("(unknown)", dead.MessageType);
        Assert.Null(dead.MessageId);
        Assert.StartsWith("sha256:", dead.Key);
        Assert.Null(dead.ActionId);
        Assert.Null(dead.FaultedAt);
    }

    [Fact]
    public void The_message_type_prefers_MassTransits_urn()
    {
        var properties = Faulted();
        properties.Headers!["MT-MessageType"] = Utf8("urn:message:AgentBus.Contracts:ExecuteTool;urn:message:Other:Thing");
        Assert.Equal("ExecuteTool", DeadLetter.Read("q_error", 1, properties, Body).MessageType);

        properties.Headers.Remove("MT-MessageType");
        properties.ClearType();
        Assert.Equal("ActionProposed", DeadLetter.Read("q_error", 1, properties, Body).MessageType);
    }

    [Fact]
    public void A_replayed_copy_keeps_its_identity_and_properties_without_the_fault()
    {
        var dead = DeadLetter.Read("agentbus.policy.proposals_error", 7, Faulted(), Body);
        var now = new DateTimeOffset(2026, 11, 24, 15, 0, 0, TimeSpan.Zero);

        var copy = DeadLetterReplayer.ReplayProperties(dead, "alice", now);

        Assert.Equal(BrokerIdentity.OperatorUser, copy.UserId);
        Assert.Equal("67e28816-6a30-49b5-a75b-d67c2d1b37a7", copy.MessageId);
        Assert.Equal("ActionProposed", copy.Type);
        Assert.Equal(DeliveryModes.Persistent, copy.DeliveryMode);
        Assert.Equal("support-bot", BrokerIdentity.HeaderText(copy, BrokerIdentity.OriginalUserIdHeader));
        Assert.DoesNotContain(copy.Headers!.Keys, k => k.StartsWith("MT-Fault-", StringComparison.Ordinal) || k == "MT-Reason" || k.StartsWith("x-dotnet-", StringComparison.Ordinal));
        Assert.Equal("vm", BrokerIdentity.HeaderText(copy, "MT-Host-MachineName"));
        Assert.Equal("alice", copy.Headers[DeadLetterReplayer.ReplayedByHeader]);
        Assert.Equal("agentbus.policy.proposals_error", copy.Headers[DeadLetterReplayer.ReplayedFromHeader]);
    }

    [Fact]
    public void A_dead_letter_that_kept_a_user_id_is_replayed_with_that_user_as_its_sender()
    {
        var properties = Faulted();
        properties.UserId = "python-agent";
        properties.Headers![BrokerIdentity.OriginalUserIdHeader] = Utf8("support-bot");

        var copy = DeadLetterReplayer.ReplayProperties(DeadLetter.Read("q_error", 1, properties, Body), "alice", DateTimeOffset.UtcNow);

        Assert.Equal("python-agent", BrokerIdentity.HeaderText(copy, BrokerIdentity.OriginalUserIdHeader));
        Assert.Equal(BrokerIdentity.OperatorUser, copy.UserId);
    }

    [Fact]
    public void A_dead_letter_without_any_identity_is_replayed_without_one()
    {
        var properties = Faulted();
        properties.Headers!.Remove(BrokerIdentity.OriginalUserIdHeader);
        properties.Headers["AGENTBUS-BROKER-USER-ID"] = Utf8("support-bot");

        var copy = DeadLetterReplayer.ReplayProperties(DeadLetter.Read("q_error", 1, properties, Body), "alice", DateTimeOffset.UtcNow);

        Assert.DoesNotContain(copy.Headers!.Keys, k => k.Equals(BrokerIdentity.OriginalUserIdHeader, StringComparison.OrdinalIgnoreCase));
    }

    [Theory]
    [InlineData("agentbus.policy.proposals_error", "agentbus.policy.proposals")]
    [InlineData("agentbus.tool.payments_skipped", "agentbus.tool.payments")]
    [InlineData("x_error_error", "x_error")]
    public void A_dead_letter_queue_names_its_source(string deadLetterQueue, string source)
    {
        Assert.True(DeadLetterQueues.IsDeadLetterQueue(deadLetterQueue));
        Assert.Equal(source, DeadLetterQueues.SourceQueue(deadLetterQueue));
    }

    [Theory]
    [InlineData("agentbus.policy.proposals")]
    [InlineData("_error")]
    [InlineData("")]
    public void Other_queues_are_not_dead_letter_queues(string queue)
    {
        Assert.False(DeadLetterQueues.IsDeadLetterQueue(queue));
        Assert.Throws<ArgumentException>(() => DeadLetterQueues.SourceQueue(queue));
    }

    [Theory]
    [InlineData("rabbitmq://127.0.0.1/agentbus/agentbus.tool.payments?bind=false", "agentbus.tool.payments")]
    [InlineData("rabbitmq://rabbit:5672/agentbus-test-1/agentbus.projections", "agentbus.projections")]
    [InlineData("not a uri", null)]
    [InlineData(null, null)]
    public void The_input_address_names_the_queue(string? address, string? queue) =>
        Assert.Equal(queue, DeadLetterQueues.QueueOfInputAddress(address));

    [Theory]
    [InlineData(null, null, false)]
    [InlineData("g", "m", false)]
    [InlineData("g", null, true)]
    [InlineData(null, "m", true)]
    [InlineData(" ", " ", false)]
    public void A_selection_needs_exactly_one_criterion(string? group, string? messageId, bool all)
    {
        Assert.Throws<ArgumentException>(() => DeadLetterSelection.From(group, messageId, all));
    }

    [Fact]
    public void A_selection_matches_by_group_message_id_or_everything()
    {
        var dead = DeadLetter.Read("q_error", 1, Faulted(), Body);

        Assert.True(DeadLetterSelection.From(null, null, true).Matches(dead));
        Assert.True(DeadLetterSelection.From(dead.GroupId, null, false).Matches(dead));
        Assert.False(DeadLetterSelection.From("00000000", null, false).Matches(dead));
        Assert.True(DeadLetterSelection.From(null, dead.MessageId, false).Matches(dead));
        Assert.False(DeadLetterSelection.From(null, "other", false).Matches(dead));
    }

    [Fact]
    public void Failures_group_by_exception_and_message_type_largest_first()
    {
        var a = DeadLetter.Read("q_error", 1, Faulted(), Body);
        var other = Faulted();
        other.Headers!["MT-Fault-ExceptionType"] = Utf8("System.TimeoutException");

        var groups = DeadLetterInspector.Group([a, a with { DeliveryTag = 2 }, DeadLetter.Read("q_error", 3, other, Body)]);

        Assert.Equal([2, 1], groups.Select(g => g.Count));
        Assert.Equal("RabbitMQ.Client.Exceptions.PublishReturnException", groups[0].Failure);
        Assert.Equal(a.GroupId, groups[0].GroupId);
    }

    [Fact]
    public void Archived_headers_are_readable_json()
    {
        var json = DeadLetterArchive.HeadersJson(Faulted());

        Assert.Contains("\"MT-Fault-RetryCount\":5", json);
        Assert.Contains("\"AgentBus-Broker-User-Id\":\"support-bot\"", json);
    }
}
