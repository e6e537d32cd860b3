using System.Net;
using AgentBus.Operations.Broker;

namespace AgentBus.UnitTests.Broker;

public class ManagementClientRaceTests
{
    sealed class ScriptedApi(params (HttpStatusCode Status, string Body)[] answers) : HttpMessageHandler
    {
        public int Calls { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var (status, body) = answers[Math.Min(Calls++, answers.Length - 1)];
            return Task.FromResult(new HttpResponseMessage(status) { Content = new StringContent(body) });
        }
    }

    [Fact]
    public async Task A_user_another_provisioner_created_a_moment_earlier_is_updated_not_a_failure()
    {
        var api = new ScriptedApi(
            (HttpStatusCode.BadRequest, """{"error":"bad_request","reason":["user_already_exists","agentbus-executor-payments"]}"""),
            (HttpStatusCode.NoContent, ""));
        using var client = new RabbitMqManagementClient(new Uri("http://127.0.0.1:15672"), "admin", "secret", api);

        await client.PutUserAsync("agentbus-executor-payments", "pw", "", CancellationToken.None);

        Assert.Equal(2, api.Calls);
    }

    [Fact]
    public async Task Any_other_refusal_is_reported_at_once()
    {
        var api = new ScriptedApi((HttpStatusCode.BadRequest, """{"error":"bad_request","reason":"invalid password"}"""));
        using var client = new RabbitMqManagementClient(new Uri("http://127.0.0.1:15672"), "admin", "secret", api);

        var refused = await Assert.ThrowsAsync<BrokerProvisioningException>(() => client.PutUserAsync("u", "pw", "", CancellationToken.None));

        Assert.Contains("invalid password", refused.Message);
        Assert.Equal(1, api.Calls);
    }
}
