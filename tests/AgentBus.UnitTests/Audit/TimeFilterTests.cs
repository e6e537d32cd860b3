using AgentBus.Audit.Gates;
using AgentBus.Audit.Stories;

namespace AgentBus.UnitTests.Audit;

public sealed class TimeFilterTests
{
    static readonly DateTimeOffset Now = DateTimeOffset.Parse("2026-12-03T12:00:00Z");

    [Theory]
    [InlineData("7d", "2026-11-26T12:00:00Z")]
    [InlineData("2w", "2026-11-19T12:00:00Z")]
    [InlineData("90m", "2026-12-03T10:30:00Z")]
    [InlineData("2026-12-01", "2026-12-01T00:00:00Z")]
    [InlineData("2026-12-01T08:30:00+01:00", "2026-12-01T07:30:00Z")]
    public void The_cli_and_the_console_read_the_same_forms(string text, string expected)
    {
        Assert.True(TimeFilter.TryParse(text, Now, out var at));
        Assert.Equal(DateTimeOffset.Parse(expected), at);
    }

    [Theory]
    [InlineData("99999999999999d")]
    [InlineData("1e300d")]
    [InlineData("Infinityd")]
    [InlineData("NaNh")]
    [InlineData("999999d")]
    [InlineData("-5d")]
    [InlineData("yesterday")]
    public void A_time_that_is_not_one_is_refused_without_an_exception(string text) =>
        Assert.False(TimeFilter.TryParse(text, Now, out _));

    [Theory]
    [InlineData("99999999999999d")]
    [InlineData("Infinityd")]
    [InlineData("NaNs")]
    public void A_duration_too_large_or_not_a_number_is_not_a_duration(string text) =>
        Assert.False(Duration.TryParse(text, out _));
}
