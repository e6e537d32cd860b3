using AgentBus.ServiceDefaults.Database;

namespace AgentBus.UnitTests.Database;

public sealed class BatchRowsTests
{
    sealed record Request(string ActionId, int? RunMaxRetries);

    [Fact]
    public void Requests_go_as_a_json_array_with_snake_case_names_and_nulls_kept()
    {
        Assert.Equal("""[{"action_id":"a","run_max_retries":null},{"action_id":"b","run_max_retries":2}]""",
            BatchRows.ToJson([new Request("a", null), new Request("b", 2)]));
    }

    [Fact]
    public void Answers_come_back_in_the_requests_order_whatever_order_the_rows_arrive_in()
    {
        Assert.Equal(["first", "second", "third"], BatchRows.InRequestOrder(3, [(3L, "third"), (1L, "first"), (2L, "second")]));
    }

    [Theory]
    [InlineData(new long[] { 1 }, "left request 2 unanswered")]
    [InlineData(new long[] { 1, 1, 2 }, "answered request 1, which it did not have or had answered")]
    [InlineData(new long[] { 1, 3 }, "answered request 3, which it did not have or had answered")]
    public void A_batch_that_leaves_a_request_unanswered_or_answers_one_twice_is_refused(long[] ordinals, string problem)
    {
        var failure = Assert.Throws<InvalidOperationException>(() => BatchRows.InRequestOrder(2, ordinals.Select(n => (n, "x"))));
        Assert.Contains(problem, failure.Message);
    }
}
