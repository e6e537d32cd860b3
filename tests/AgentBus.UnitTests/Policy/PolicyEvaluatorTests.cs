using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.Policy.Engine;

namespace AgentBus.UnitTests.Policy;

public class PolicyEvaluatorTests
{
    const string Yaml = """
        agents:
          - id: support-bot
            team: support
          - id: intern-bot
            team: support
        tools:
          - name: ticketing
          - name: payments
        grants:
          - id: support-bot-refunds
            agent: support-bot
            tool: payments
          - id: intern-bot-tickets
            agent: intern-bot
            tool: ticketing
        """;

    static readonly PolicySnapshot Policy = PolicyLoader.Parse(Yaml, "test.yaml").Policy!;
    static readonly JsonElement Arguments = JsonDocument.Parse("""{"method":"GET","url":"http://127.0.0.1/"}""").RootElement;

    static ActionProposed Proposal(string agent = "support-bot", string tool = "payments", string? actionId = null, string runId = "run-1") =>
        new(actionId ?? "0193e3c2-6f1a-7c3b-9d4e-2a1b3c4d5e6f", runId, agent, tool, Arguments);

    public static TheoryData<string, ActionProposed, string?, string, string> Cases() => new()
    {
        { "granted", Proposal(), "support-bot", ReasonCodes.Allowed, "support-bot-refunds" },
        { "no grant for that tool", Proposal("intern-bot", "payments"), "intern-bot", ReasonCodes.NoGrant, "default-deny" },
        { "unknown agent", Proposal("ghost-bot", "payments"), "ghost-bot", ReasonCodes.UnknownAgent, "default-deny" },
        { "unknown tool", Proposal(tool: "crm"), "support-bot", ReasonCodes.UnknownTool, "default-deny" },
        { "no user_id", Proposal(), null, ReasonCodes.IdentityMissing, "identity" },
        { "user_id of another agent", Proposal(), "intern-bot", ReasonCodes.IdentityMismatch, "identity" },
        { "action id not a uuid", Proposal(actionId: "42"), "support-bot", ReasonCodes.InvalidField, "envelope" },
        { "action id missing", Proposal(actionId: ""), "support-bot", ReasonCodes.MissingField, "envelope" },
        { "run id with spaces", Proposal(runId: "run 1"), "support-bot", ReasonCodes.InvalidField, "envelope" },
        { "run id too long", Proposal(runId: new string('r', 129)), "support-bot", ReasonCodes.InvalidField, "envelope" },
        { "agent id with capitals", Proposal("Support-Bot"), "Support-Bot", ReasonCodes.InvalidField, "envelope" },
        { "tool with a path", Proposal(tool: "../payments"), "support-bot", ReasonCodes.InvalidField, "envelope" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Decides_with_the_expected_reason_and_rule(string because, ActionProposed proposal, string? brokerUser, string reasonCode, string ruleId)
    {
        var decision = PolicyEvaluator.Evaluate(proposal, brokerUser, Policy);

        Assert.True(reasonCode == decision.ReasonCode, $"{because}: expected {reasonCode}, got {decision.ReasonCode} ({decision.Reason})");
        Assert.Equal(ruleId, decision.RuleId);
        Assert.Equal(reasonCode == ReasonCodes.Allowed ? Decision.Allowed : Decision.Denied, decision.Decision);
        Assert.False(string.IsNullOrWhiteSpace(decision.Reason));
    }

    [Fact]
    public void No_policy_denies_everything() =>
        Assert.Equal(ReasonCodes.PolicyUnavailable, PolicyEvaluator.Evaluate(Proposal(), "support-bot", null).ReasonCode);

    [Fact]
    public void Arguments_that_are_not_an_object_are_refused()
    {
        var proposal = Proposal() with { Arguments = JsonDocument.Parse("[1]").RootElement };
        Assert.Equal(ReasonCodes.InvalidFieldType, PolicyEvaluator.Evaluate(proposal, "support-bot", Policy).ReasonCode);
    }

    [Fact]
    public void Missing_arguments_are_refused()
    {
        var proposal = Proposal() with { Arguments = default };
        Assert.Equal(ReasonCodes.MissingField, PolicyEvaluator.Evaluate(proposal, "support-bot", Policy).ReasonCode);
    }

    [Fact]
    public void Identity_is_checked_before_the_policy_so_a_spoofer_learns_nothing_about_grants()
    {
        var decision = PolicyEvaluator.Evaluate(Proposal("ghost-bot"), "support-bot", Policy);
        Assert.Equal(ReasonCodes.IdentityMismatch, decision.ReasonCode);
    }
}
