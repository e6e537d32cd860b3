using System.Text.Json;
using AgentBus.Approvals.Approvers;
using AgentBus.Approvals.Display;

namespace AgentBus.UnitTests.Approvals;

public class ArgumentDisplayTests
{
    static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement.Clone();

    [Fact]
    public void Secret_looking_keys_and_url_credentials_are_masked_everything_else_kept()
    {
        var redacted = ArgumentRedactor.Redact(Json("""
            {"method":"POST","url":"https://user:pw@api.example.com/v1?api_key=k1&page=2#top",
             "headers":{"Authorization":"Bearer t","X-Trace":"abc"},
             "body":{"amount":10,"password":"p","nested":{"clientSecret":"s","items":[{"token":"x","n":1}]},"cardNumber":"4111"}}
            """))!.ToJsonString();

        foreach (var secret in new[] { "k1", "\"p\"", "Bearer t", "\"s\"", "\"x\"", "4111", "user:pw" })
            Assert.DoesNotContain(secret, redacted);
        foreach (var kept in new[] { "page=2", "#top", "abc", "\"amount\":10", "\"n\":1", "api.example.com/v1" })
            Assert.Contains(kept, redacted);
    }

    [Fact]
    public void A_secret_key_holding_an_object_is_masked_leaf_by_leaf()
    {
        var redacted = ArgumentRedactor.Redact(Json("""{"credentials":{"user":"u","pass":"p"}}"""))!.ToJsonString();
        Assert.Equal("""{"credentials":{"user":"***","pass":"***"}}""", redacted);
    }

    [Fact]
    public void Before_and_after_in_the_arguments_make_a_leaf_diff()
    {
        var changes = ArgumentDiff.For(Json("""
            {"before":{"limit":100,"owner":"a","tags":["x"],"apiKey":"old"},"after":{"limit":500,"tags":["x","y"],"apiKey":"new"}}
            """), null)!;

        Assert.Equal(
        [
            new ArgumentChange("$.limit", "changed", "100", "500"),
            new ArgumentChange("$.owner", "removed", "\"a\"", null),
            new ArgumentChange("$.tags[1]", "added", null, "\"y\""),
        ], changes);
    }

    [Fact]
    public void A_known_current_value_is_compared_with_the_http_body()
    {
        var changes = ArgumentDiff.For(Json("""{"method":"PUT","url":"https://x/limits","body":{"daily":5000}}"""), Json("""{"daily":1000}"""))!;
        Assert.Equal([new ArgumentChange("$.daily", "changed", "1000", "5000")], changes);
    }

    [Fact]
    public void Without_two_sides_there_is_no_diff()
    {
        Assert.Null(ArgumentDiff.For(Json("""{"method":"POST","body":{"a":1}}"""), null));
    }

    [Fact]
    public void Tokens_are_random_well_formed_and_only_their_hash_identifies_them()
    {
        var one = ApproverTokens.Create();
        var two = ApproverTokens.Create();

        Assert.NotEqual(one, two);
        Assert.True(ApproverTokens.IsWellFormed(one));
        Assert.StartsWith("abt_", one);
        Assert.Equal(32, ApproverTokens.Hash(one).Length);
        Assert.NotEqual(ApproverTokens.Hash(one), ApproverTokens.Hash(two));
        Assert.False(ApproverTokens.IsWellFormed(one[..^1]));
        Assert.False(ApproverTokens.IsWellFormed(one[..^1] + "!"));
        Assert.False(ApproverTokens.IsWellFormed("eyJhbGciOi.x.y"));
    }

    [Theory]
    [InlineData("Bob", "bob")]
    [InlineData(" olga@example.com ", "olga@example.com")]
    public void Approver_names_are_normalised(string given, string stored) => Assert.Equal(stored, ApproverStore.ValidName(given));

    [Theory]
    [InlineData("")]
    [InlineData("-bob")]
    [InlineData("bob smith")]
    public void Bad_approver_names_are_refused(string name) => Assert.Throws<ApproverException>(() => ApproverStore.ValidName(name));

    [Fact]
    public void Group_claims_are_read_repeated_as_a_json_array_or_space_separated()
    {
        Assert.Equal(["finance", "ops"], AgentBus.Approvals.Approvers.ApproverAuthentication.Groups(["[\"Finance\",\"ops\"]"]));
        Assert.Equal(["a", "b", "c"], AgentBus.Approvals.Approvers.ApproverAuthentication.Groups(["a b", "c"]));
    }
}
