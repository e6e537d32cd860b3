using AgentBus.Cli.Commands;

namespace AgentBus.UnitTests.Cli;

/// <summary>--rabbitmq-endpoints: the operator commands take a cluster's nodes, and refuse a malformed list before connecting anywhere.</summary>
public sealed class BrokerAddressOptionsTests : IDisposable
{
    readonly string _passwordFile = Path.GetTempFileName();

    [Theory]
    [InlineData("127.0.0.1:notaport", "'127.0.0.1:notaport' is not host:port")]
    [InlineData("127.0.0.1:5672,:5673", "':5673' names no valid host")]
    [InlineData(" , ", "no broker node is named")]
    public async Task A_malformed_node_list_is_a_usage_error_that_names_the_option(string endpoints, string expected)
    {
        var (code, output, error) = await ToolsCli.Run(DlqCommands.Create(),
            "dlq", "list", "--rabbitmq-endpoints", endpoints, "--password-file", _passwordFile);

        Assert.Equal(2, code);
        Assert.Contains("--rabbitmq-endpoints", error + output);
        Assert.Contains(expected, error + output);
    }

    public void Dispose() => File.Delete(_passwordFile);
}
