using System.Text.Json;
using AgentBus.Audit.Stories;
using AgentBus.OperatorConsole;
using AgentBus.OperatorConsole.Identity;
using AgentBus.OperatorConsole.Pages;

namespace AgentBus.UnitTests.OperatorConsole;

public sealed class ConsolePagesTests
{
    static readonly ConsoleRoleGroups Map = new();

    [Theory]
    [InlineData(new[] { "console-viewers" }, new[] { "viewer" })]
    [InlineData(new[] { "console-operators" }, new[] { "viewer", "operator" })]
    [InlineData(new[] { "console-auditors" }, new[] { "viewer", "auditor" })]
    [InlineData(new[] { "console-operators", "console-auditors", "finance" }, new[] { "viewer", "operator", "auditor" })]
    [InlineData(new[] { "finance", "payments-approvers" }, new string[0])]
    [InlineData(new string[0], new string[0])]
    public void Roles_come_from_groups_and_operators_and_auditors_also_view(string[] groups, string[] roles) =>
        Assert.Equal(roles, ConsoleRoles.For(groups, Map));

    [Fact]
    public void Role_groups_are_configurable_and_a_group_can_give_several_roles()
    {
        var map = new ConsoleRoleGroups { Viewer = [], Operator = ["sre"], Auditor = ["sre", "compliance"] };
        Assert.Equal(["viewer", "operator", "auditor"], ConsoleRoles.For(["sre"], map));
        Assert.Equal(["viewer", "auditor"], ConsoleRoles.For(["compliance"], map));
        Assert.Empty(ConsoleRoles.For(["console-viewers"], map));
    }

    [Theory]
    [InlineData("/runs/run-1?x=1", "/runs/run-1?x=1")]
    [InlineData("/agents", "/agents")]
    [InlineData("//evil.example/steal", "/fallback")]
    [InlineData("/\\evil.example", "/fallback")]
    [InlineData("https://evil.example/", "/fallback")]
    [InlineData("javascript:alert(1)", "/fallback")]
    [InlineData("/", "/fallback")]
    [InlineData("/ok\r\nSet-Cookie: x=1", "/fallback")]
    [InlineData("", "/fallback")]
    [InlineData(null, "/fallback")]
    public void Only_paths_on_this_host_are_followed_after_sign_in_or_a_change(string? url, string expected) =>
        Assert.Equal(expected, Html.LocalPath(url, "/fallback"));

    [Theory]
    [InlineData("7d", -7 * 24 * 60)]
    [InlineData("12h", -12 * 60)]
    [InlineData("30m", -30)]
    public void Run_filters_read_durations_back_from_now(string text, int minutes)
    {
        var now = DateTimeOffset.Parse("2026-12-03T12:00:00Z");
        var problems = new List<string>();
        Assert.Equal(now.AddMinutes(minutes), RunsPages.Time(text, "since", now, problems));
        Assert.Empty(problems);
    }

    [Theory]
    [InlineData("2026-12-01", "2026-12-01T00:00:00Z")]
    [InlineData("2026-12-01T08:30:00+01:00", "2026-12-01T07:30:00Z")]
    public void Run_filters_read_dates_as_utc_unless_they_say_otherwise(string text, string expected) =>
        Assert.Equal(DateTimeOffset.Parse(expected), RunsPages.Time(text, "since", DateTimeOffset.UtcNow, []));

    [Theory]
    [InlineData("yesterday")]
    [InlineData("7x")]
    [InlineData("-5d")]
    [InlineData("99999999999d")]
    [InlineData("999999d")]
    [InlineData("<script>alert(1)</script>")]
    public void A_bad_time_filter_is_named_in_the_problem_and_never_echoed_raw(string text)
    {
        var problems = new List<string>();
        Assert.Null(RunsPages.Time(text, "since", DateTimeOffset.UtcNow, problems));
        var problem = Assert.Single(problems);
        Assert.StartsWith("since '", problem);
    }

    [Fact]
    public void The_timeline_encodes_whatever_the_audit_holds()
    {
        var at = DateTimeOffset.Parse("2026-12-03T10:00:00Z");
        var hostile = "<script>alert('x')</script>\"><img src=x onerror=alert(1)>";
        var step = new StoryStep(1, Guid.NewGuid(), StoryStages.Decision, hostile, at, hostile, hostile, hostile, hostile, null, null, null,
            JsonSerializer.SerializeToElement(new { }));
        var action = new ActionStory(hostile, hostile, hostile, hostile, hostile, null, at, "allowed", hostile, hostile, hostile, null, [], null, null,
            null, null, null, null, null, 0, [step]);
        var story = new RunStory(hostile, "running", at, at.AddSeconds(1), [], [action], [],
            new RunTotals(1, 1, 0, 0, 0, 0, 0, 0, 0, 0, TimeSpan.FromSeconds(1)));

        var svg = RunTimeline.Svg(story);

        Assert.DoesNotContain("<script", svg);
        Assert.DoesNotContain("<img", svg);
        Assert.Contains("&lt;script&gt;", svg);
    }

    [Fact]
    public void A_page_encodes_the_signed_in_name_and_forbids_scripts_by_construction()
    {
        var page = Html.Page("t<i>", "/runs", new ConsoleUser("<b>mallory</b>", [], ["viewer"]), null, "<p>body</p>");
        Assert.Contains("&lt;b&gt;mallory&lt;/b&gt;", page);
        Assert.DoesNotContain("<script", page);
        Assert.Contains("<a href=\"/runs\" class=\"active\">", page);
    }
}
