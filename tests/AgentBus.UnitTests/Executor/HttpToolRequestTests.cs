using System.Text.Json;
using AgentBus.Executor.Tools;

namespace AgentBus.UnitTests.Executor;

public class HttpToolRequestTests
{
    static HttpTool.Request Read(string json) => HttpTool.ReadRequest(JsonDocument.Parse(json).RootElement);

    [Fact]
    public void Method_url_and_body_come_from_the_arguments()
    {
        var request = Read("""{"method":"post","url":"http://127.0.0.1:5080/x","body":{"a":1}}""");
        Assert.Null(request.Problem);
        Assert.Equal("POST", request.Method);
        Assert.Equal(5080, request.Url!.Port);
        Assert.Equal(1, request.Body!.Value.GetProperty("a").GetInt32());
    }

    [Theory]
    [InlineData("""{"url":"http://h/"}""")]
    [InlineData("""{"method":"TRACE","url":"http://h/"}""")]
    [InlineData("""{"method":"GET"}""")]
    [InlineData("""{"method":"GET","url":"/relative"}""")]
    [InlineData("""{"method":"GET","url":"file:///etc/passwd"}""")]
    [InlineData("""{"method":"GET","url":"http://user:pass@h/"}""")]
    [InlineData("""{"method":7,"url":"http://h/"}""")]
    public void Anything_else_is_refused_before_a_connection_is_made(string json) =>
        Assert.NotNull(Read(json).Problem);
}
