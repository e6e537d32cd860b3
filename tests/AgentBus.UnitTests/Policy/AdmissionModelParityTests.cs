using System.Reflection;
using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.Policy.Engine;
using AgentBus.Policy.State;
using AgentBus.ServiceDefaults.Json;

namespace AgentBus.UnitTests.Policy;

/// <summary>
/// The admission model answers in the policy service's words and compares arguments as it does: a
/// change to AdmissionStore's refusals or to CanonicalJson that the model does not follow fails here.
/// </summary>
public sealed class AdmissionModelParityTests
{
    static readonly DateTimeOffset Now = new(2026, 12, 3, 12, 34, 56, TimeSpan.Zero);

    static readonly AdmissionTerms Terms = new("g", 0.01m,
        new(60, "limits.default.callsPerMinute"), new(30, "limits.tools.payments.callsPerMinute"),
        new(50, "limits.default.run.maxToolCalls"), new(3, "limits.default.run.maxRetries"), new(TimeSpan.FromHours(1), "limits.default.run.maxDuration"),
        new(5m, "budgets.agents.support-bot.perDayUsd"), new(1m, "budgets.agents.support-bot.perRunUsd"),
        new(5, "limits.operations.payments.refund.callsPerMinute"));

    static readonly ActionProposed Proposal = new("00000000-0000-7000-8000-000000000001", "run-7", "support-bot", "payments",
        JsonDocument.Parse("{}").RootElement.Clone(), null, null, "refund");

    /// <summary>AdmissionStore.Refusal, which is private to the service.</summary>
    static PolicyDecision ServiceRefusal(string result, DateTime? runStartedAt, int? attempts, decimal? spent, decimal? reserved)
    {
        var refusedType = typeof(AdmissionStore).GetNestedType("Refused", BindingFlags.NonPublic)!;
        var refused = Activator.CreateInstance(refusedType, result, runStartedAt, attempts, spent, reserved, (DateTime?)null)!;
        var method = typeof(AdmissionStore).GetMethod("Refusal", BindingFlags.NonPublic | BindingFlags.Static)!;
        return (PolicyDecision)method.Invoke(null, [refused, Proposal, Terms, Now])!;
    }

    [Theory]
    [InlineData("agent_rate")]
    [InlineData("tool_rate")]
    [InlineData("operation_rate")]
    [InlineData("run_time")]
    [InlineData("run_tool_calls")]
    [InlineData("run_retries")]
    [InlineData("budget_day")]
    [InlineData("budget_run")]
    public void Each_refusal_is_worded_and_attributed_as_the_service_does_it(string result)
    {
        var started = new DateTime(2026, 12, 3, 11, 0, 0, DateTimeKind.Unspecified);

        var service = ServiceRefusal(result, started, 5, 0.995m, 0.004m);
        var model = AdmissionRefusals.Describe(result, Proposal, Terms, Now, new DateTimeOffset(started, TimeSpan.Zero), 5, 0.995m, 0.004m);

        Assert.Equal(service, model);
    }

    [Theory]
    [InlineData("""{"a": 1, "b": [1.0, "x"]}""", """{"b": [1, "x"], "a": 1.00}""")]
    [InlineData("""{"amountUsd": 25.00}""", """{"amountUsd": 25.000001}""")]
    [InlineData("""{"é": "\u00e9", "e": null}""", """{"e": null, "é": "é"}""")]
    [InlineData("""{"n": 1e2}""", """{"n": 100}""")]
    [InlineData("""{"s": "1"}""", """{"s": 1}""")]
    public void Arguments_are_the_same_action_exactly_when_their_RFC_8785_hashes_are_equal(string a, string b)
    {
        var first = JsonDocument.Parse(a).RootElement;
        var second = JsonDocument.Parse(b).RootElement;

        Assert.Equal(CanonicalJson.Hash(first) == CanonicalJson.Hash(second),
            AdmissionModel.CanonicalArguments(first) == AdmissionModel.CanonicalArguments(second));
    }
}
