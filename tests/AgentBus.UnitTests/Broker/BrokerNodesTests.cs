using AgentBus.Contracts;
using AgentBus.Policy.Engine;

namespace AgentBus.UnitTests.Broker;

public sealed class BrokerNodesTests
{
    [Fact]
    public void A_list_of_nodes_reads_each_host_and_port_and_fills_a_missing_port_with_the_default()
    {
        Assert.Equal([new BrokerNode("127.0.0.1", 5692), new BrokerNode("rabbit-2", 5672), new BrokerNode("127.0.0.1", 5694)],
            BrokerNodes.Parse(" 127.0.0.1:5692, rabbit-2 ,127.0.0.1:5694,", 5672));
    }

    [Theory]
    [InlineData("")]
    [InlineData(" , ")]
    [InlineData("127.0.0.1:0")]
    [InlineData("127.0.0.1:70000")]
    [InlineData("127.0.0.1:amqp")]
    [InlineData(":5672")]
    [InlineData("user@host:5672")]
    [InlineData("amqp://host:5672")]
    public void A_list_with_a_bad_item_is_refused_naming_it(string list)
    {
        var refused = Assert.Throws<FormatException>(() => BrokerNodes.Parse(list, 5672));
        Assert.False(string.IsNullOrWhiteSpace(refused.Message));
    }

    [Fact]
    public void A_setting_names_itself_in_its_problem_and_an_empty_one_means_the_single_host()
    {
        Assert.Null(BrokerNodes.Problem("RabbitMq:Endpoints", " ", 5672));
        Assert.Equal([new BrokerNode("h", 1)], BrokerNodes.ListOrSingle(null, "h", 1));
        Assert.StartsWith("RabbitMq:Endpoints: 'x:0'", BrokerNodes.Problem("RabbitMq:Endpoints", "x:0", 5672));
    }

    [Theory]
    [InlineData("payments_error", "_error")]
    [InlineData("bot_skipped", "_skipped")]
    [InlineData("error-bot", null)]
    [InlineData("bot_errors", null)]
    public void Names_that_end_like_a_dead_letter_queue_are_recognised(string name, string? suffix) =>
        Assert.Equal(suffix, Names.DeadLetterSuffix(name));

    [Fact]
    public void A_policy_refuses_an_agent_or_tool_named_like_another_ones_dead_letter_queue()
    {
        var folder = Directory.CreateTempSubdirectory("agentbus-dlq-names-").FullName;
        try
        {
            var file = Path.Combine(folder, "policy.yaml");
            File.WriteAllText(file, """
                agents: [{id: support-bot_error, team: t}]
                tools: [{name: payments_skipped, capabilities: [read]}]
                """);
            var result = PolicyLoader.LoadFile(file);
            Assert.Null(result.Policy);
            Assert.Contains(result.Errors, e => e.Contains("agent id 'support-bot_error' ends in '_error'"));
            Assert.Contains(result.Errors, e => e.Contains("tool name 'payments_skipped' ends in '_skipped'"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void A_policy_refuses_a_tool_whose_executor_login_would_read_as_another_tools()
    {
        var result = PolicyLoader.Parse("""
            agents: [{id: support-bot, team: t}]
            tools: [{name: payments-executor-ticketing, capabilities: [read]}, {name: executors, capabilities: [read]}]
            """, "policy.yaml");

        Assert.Null(result.Policy);
        Assert.Single(result.Errors, e => e.Contains("tool name 'payments-executor-ticketing' contains 'executor-'"));
        Assert.DoesNotContain(result.Errors, e => e.Contains("'executors'"));
    }
}
