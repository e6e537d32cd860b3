using System.Text.Json;
using AgentBus.Executor.Execution;

namespace AgentBus.UnitTests.Executor;

public class ResultRedactorTests
{
    static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement;

    [Fact]
    public void Values_at_the_configured_paths_are_replaced_and_everything_else_is_kept_exactly()
    {
        var redactor = new ResultRedactor(["$.body.card.number", "$..password", "$.body.items[*].token"], secret: null);
        var result = redactor.Redact(Json("""
            {"status":201,"body":{"id":"RF-1","amount":12.50,"at":"2025-03-01T12:00:00Z",
             "card":{"number":"4111111111111111","brand":"visa"},
             "user":{"password":"hunter2","nested":{"password":{"old":"x"}}},
             "items":[{"token":"a","n":1},{"token":"b","n":2}]}}
            """));

        var body = result.GetProperty("body");
        Assert.Equal(ResultRedactor.Mask, body.GetProperty("card").GetProperty("number").GetString());
        Assert.Equal("visa", body.GetProperty("card").GetProperty("brand").GetString());
        Assert.Equal(ResultRedactor.Mask, body.GetProperty("user").GetProperty("password").GetString());
        Assert.Equal(ResultRedactor.Mask, body.GetProperty("user").GetProperty("nested").GetProperty("password").GetString());
        Assert.All(body.GetProperty("items").EnumerateArray(), item => Assert.Equal(ResultRedactor.Mask, item.GetProperty("token").GetString()));
        Assert.Equal(12.50m, body.GetProperty("amount").GetDecimal());
        Assert.Equal("2025-03-01T12:00:00Z", body.GetProperty("at").GetString());
        Assert.Equal(201, result.GetProperty("status").GetInt32());
    }

    [Fact]
    public void The_tools_secret_is_masked_wherever_a_response_echoes_it()
    {
        var redactor = new ResultRedactor([], secret: "s3cr3t-value");
        var result = redactor.Redact(Json("""{"body":{"echo":"Bearer s3cr3t-value","list":["s3cr3t-value"]}}"""));
        Assert.DoesNotContain("s3cr3t-value", result.GetRawText());
        Assert.Equal("Bearer " + ResultRedactor.Mask, result.GetProperty("body").GetProperty("echo").GetString());
    }

    [Fact]
    public void Paths_that_match_nothing_change_nothing()
    {
        var original = Json("""{"body":{"a":1}}""");
        Assert.Equal(original.GetRawText(), new ResultRedactor(["$.body.missing"], null).Redact(original).GetRawText());
    }

    [Theory]
    [InlineData("body.card")]
    [InlineData("$.body[")]
    [InlineData("")]
    public void A_path_that_is_not_jsonpath_is_a_startup_problem(string path) =>
        Assert.NotNull(ResultRedactor.PathProblem(path));

    [Fact]
    public void A_good_path_is_no_problem() => Assert.Null(ResultRedactor.PathProblem("$..password"));
}
