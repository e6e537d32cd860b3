using System.Net;
using System.Text;
using AgentBus.Client;

namespace AgentBus.UnitTests.Client;

public sealed class OperationsGatewayTests
{
    const string Password = "s3cret-broker-password";

    static readonly AgentClientOptions Agent = new() { AgentId = "support-bot", Password = Password };

    const string Offer = """
        {"agentId":"support-bot","policyVersion":"sha256:abc","operations":[
          {"name":"payments_get_order","tool":"payments","operation":"get_order","title":"payments.get_order",
           "description":"Look up one order.","inputSchema":{"type":"object","required":["orderId"]},
           "readOnly":true,"destructive":false,"idempotent":true,"risk":"low","capabilities":["read"],"approval":null}]}
        """;

    sealed class Answer(HttpStatusCode status, string body, string mediaType = "application/problem+json") : HttpMessageHandler
    {
        public HttpRequestMessage? Request { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Request = request;
            return Task.FromResult(new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, mediaType) });
        }
    }

    sealed class NobodyListens : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            throw new HttpRequestException("Connection refused (127.0.0.1:5105)");
    }

    [Fact]
    public async Task The_offer_is_read_with_the_agents_credential_as_basic_auth()
    {
        var gateway = new Answer(HttpStatusCode.OK, Offer, "application/json");

        var offer = await OperationsGateway.GetOperationsAsync(Agent, new Uri("http://gateway.test:5105"), new HttpClient(gateway));

        Assert.Equal("http://gateway.test:5105/v1/operations", gateway.Request!.RequestUri!.ToString());
        Assert.Equal("Basic", gateway.Request.Headers.Authorization!.Scheme);
        Assert.Equal($"support-bot:{Password}", Encoding.UTF8.GetString(Convert.FromBase64String(gateway.Request.Headers.Authorization.Parameter!)));
        var operation = Assert.Single(offer.Operations);
        Assert.Equal(("payments_get_order", "payments", "get_order"), (operation.Name, operation.Tool, operation.Operation));
        Assert.True(operation.ReadOnly);
        Assert.Equal("object", operation.InputSchema.GetProperty("type").GetString());
        Assert.Equal("sha256:abc", offer.PolicyVersion);
    }

    [Fact]
    public async Task A_gateway_under_a_path_keeps_its_path()
    {
        var gateway = new Answer(HttpStatusCode.OK, Offer, "application/json");

        await OperationsGateway.GetOperationsAsync(Agent, new Uri("http://gateway.test/agentbus"), new HttpClient(gateway));

        Assert.Equal("http://gateway.test/agentbus/v1/operations", gateway.Request!.RequestUri!.ToString());
    }

    [Fact]
    public async Task A_refused_credential_is_its_own_exception_with_the_problems_detail_and_no_password()
    {
        var gateway = new Answer(HttpStatusCode.Unauthorized, """{"title":"Unauthorized","detail":"Wrong agent id or password."}""");

        var refused = await Assert.ThrowsAsync<GatewayCredentialRejectedException>(() =>
            OperationsGateway.GetOperationsAsync(Agent, null, new HttpClient(gateway)));

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("Wrong agent id or password.", refused.Detail);
        Assert.Equal("http://127.0.0.1:5105/v1/operations", gateway.Request!.RequestUri!.ToString());
        Assert.DoesNotContain(Password, refused.Message);
    }

    [Fact]
    public async Task A_gateway_without_its_broker_is_unavailable()
    {
        var gateway = new Answer(HttpStatusCode.ServiceUnavailable, """{"title":"Broker unreachable","detail":"RabbitMQ at 127.0.0.1:5672 does not answer."}""");

        var unavailable = await Assert.ThrowsAsync<GatewayUnavailableException>(() =>
            OperationsGateway.GetOperationsAsync(Agent, null, new HttpClient(gateway)));

        Assert.Equal("Broker unreachable", unavailable.Title);
        Assert.Contains("RabbitMQ at 127.0.0.1:5672 does not answer.", unavailable.Message);
    }

    [Fact]
    public async Task Any_other_status_is_a_gateway_exception_even_without_a_problem_body()
    {
        var gateway = new Answer(HttpStatusCode.InternalServerError, "<html>oops</html>", "text/html");

        var failed = await Assert.ThrowsAsync<GatewayException>(() => OperationsGateway.GetOperationsAsync(Agent, null, new HttpClient(gateway)));

        Assert.Equal(HttpStatusCode.InternalServerError, failed.StatusCode);
        Assert.Equal("Internal Server Error", failed.Title);
    }

    [Fact]
    public async Task No_gateway_listening_is_unreachable_in_one_readable_line()
    {
        var unreachable = await Assert.ThrowsAsync<GatewayUnreachableException>(() =>
            OperationsGateway.GetOperationsAsync(Agent, null, new HttpClient(new NobodyListens())));

        Assert.Null(unreachable.StatusCode);
        Assert.Equal("Cannot reach the gateway at http://127.0.0.1:5105/v1/operations: Connection refused (127.0.0.1:5105)", unreachable.Message);
    }
}
