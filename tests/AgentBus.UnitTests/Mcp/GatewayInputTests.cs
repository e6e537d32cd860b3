using System.Text;
using System.Text.Json.Nodes;
using AgentBus.Contracts;
using AgentBus.Mcp;

namespace AgentBus.UnitTests.Mcp;

public sealed class GatewayInputTests
{
    static string Encoded(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    [Theory]
    [InlineData("Basic")]
    [InlineData("basic")]
    [InlineData("Bearer")]
    public void A_credential_is_the_agent_id_and_password_in_base64_under_basic_or_bearer(string scheme)
    {
        Assert.Equal(("support-bot", "pa:ss wörd"), AgentAuthenticationHandler.Credential($"{scheme} {Encoded("support-bot:pa:ss wörd")}"));
    }

    [Fact]
    public void A_base64url_bearer_token_without_padding_is_read_too()
    {
        var token = Encoded("support-bot:???>>>").TrimEnd('=').Replace('+', '-').Replace('/', '_');
        Assert.Equal(("support-bot", "???>>>"), AgentAuthenticationHandler.Credential("Bearer " + token));
    }

    [Theory]
    [InlineData("Basic")]
    [InlineData("Digest abc")]
    [InlineData("Basic !!!not-base64!!!")]
    [InlineData("Basic c3VwcG9ydC1ib3Q=")]           // "support-bot": no password
    [InlineData("Basic OnBhc3N3b3Jk")]               // ":password": no agent
    [InlineData("Basic c3VwcG9ydC1ib3Q6")]           // "support-bot:": empty password
    [InlineData("Basic /w==")]                       // not UTF-8
    public void A_malformed_credential_is_refused(string header)
    {
        Assert.Null(AgentAuthenticationHandler.Credential(header));
    }

    [Fact]
    public void An_agent_id_with_control_characters_or_longer_than_a_broker_user_name_is_refused()
    {
        Assert.Null(AgentAuthenticationHandler.Credential("Basic " + Encoded("support\nbot:secret")));
        Assert.Null(AgentAuthenticationHandler.Credential("Basic " + Encoded(new string('a', 129) + ":secret")));
    }

    [Fact]
    public void Call_meta_carries_run_id_idempotency_key_and_intent()
    {
        var (meta, error) = CallMeta.Read(new JsonObject
        {
            [OperationNames.RunIdMeta] = "run-42",
            [OperationNames.IdempotencyKeyMeta] = "refund ORD-1 once",
            [OperationNames.IntentMeta] = "the customer asked",
            ["progressToken"] = 7,
        });

        Assert.Null(error);
        Assert.Equal(new CallMeta("run-42", "refund ORD-1 once", "the customer asked"), meta);
        Assert.Equal(new CallMeta(null, null, null), CallMeta.Read(null).Meta);
    }

    [Theory]
    [InlineData(OperationNames.RunIdMeta, "run with spaces")]
    [InlineData(OperationNames.RunIdMeta, "-starts-with-dash")]
    [InlineData(OperationNames.IdempotencyKeyMeta, "")]
    [InlineData(OperationNames.IdempotencyKeyMeta, "line\nbreak")]
    public void Call_meta_that_a_proposal_would_refuse_is_refused_with_the_key_named(string key, string value)
    {
        var (meta, error) = CallMeta.Read(new JsonObject { [key] = value });

        Assert.Null(meta);
        Assert.Contains(key, error);
    }

    [Fact]
    public void Call_meta_of_the_wrong_type_or_too_long_is_refused()
    {
        Assert.Contains("must be a string", CallMeta.Read(new JsonObject { [OperationNames.RunIdMeta] = 42 }).Error);
        Assert.NotNull(CallMeta.Read(new JsonObject { [OperationNames.IdempotencyKeyMeta] = new string('k', 201) }).Error);
        Assert.NotNull(CallMeta.Read(new JsonObject { [OperationNames.IntentMeta] = new string('i', 2001) }).Error);
    }

    [Theory]
    [InlineData("Es8JZjH3SqDjZBcdfAAvhA", "mcp-Es8JZjH3SqDjZBcdfAAvhA")]
    [InlineData("a/b+c=", "mcp-a-b-c-")]
    public void The_mcp_session_becomes_a_run_id_the_contract_accepts(string session, string runId)
    {
        Assert.Equal(runId, OperationCalls.RunIdFor(session));
        Assert.True(OperationCalls.RunIdFor(new string('x', 300)).Length <= 128);
        Assert.StartsWith("mcp-", OperationCalls.RunIdFor(null));
    }
}
