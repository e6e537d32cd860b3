using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.Policy.Engine;

namespace AgentBus.UnitTests.Policy;

/// <summary>Inputs the hostile-input run (bench/AgentBus.Hostile) found getting past the envelope checks.</summary>
public class ProposalValidatorHostileTests
{
    static ActionProposed Proposal(string arguments = """{"n":1}""", string tool = "noop", string runId = "run-1", string agentId = "agent-a",
        string? idempotencyKey = null, string? intent = null) =>
        new("0193e3c2-6f1a-7c3b-9d4e-2a1b3c4d5e6f", runId, agentId, tool, JsonDocument.Parse(arguments).RootElement, idempotencyKey, intent);

    static string? Code(ActionProposed proposal) => new ProposalValidator().Validate(proposal).Errors.FirstOrDefault()?.ErrorCode;

    [Fact]
    public void A_well_formed_proposal_passes() => Assert.Null(Code(Proposal(idempotencyKey: "key-1", intent: "line one\nline two")));

    [Theory]
    [InlineData("noop\n")]
    [InlineData("agent-a\n")]
    public void A_name_with_a_trailing_newline_is_not_a_name(string name)
    {
        Assert.Equal(ReasonCodes.InvalidField, Code(Proposal(tool: name)));
        Assert.Equal(ReasonCodes.InvalidField, Code(Proposal(agentId: name)));
        Assert.Equal(ReasonCodes.InvalidField, Code(Proposal(runId: "run-1\n")));
    }

    [Theory]
    [InlineData("""{"n":1e999999}""")]
    [InlineData("""{"n":[1, {"deep": -1e400}]}""")]
    public void A_number_no_double_can_hold_is_refused_before_it_is_hashed(string arguments) =>
        Assert.Equal(ReasonCodes.InvalidField, Code(Proposal(arguments)));

    [Theory]
    [InlineData("key\u0000")]
    [InlineData("key\r\nX-Injected: 1")]
    public void An_idempotency_key_with_control_characters_is_refused(string key) =>
        Assert.Equal(ReasonCodes.InvalidField, Code(Proposal(idempotencyKey: key)));

    [Fact]
    public void An_intent_with_a_NUL_is_refused() => Assert.Equal(ReasonCodes.InvalidField, Code(Proposal(intent: "why\u0000")));
}

public class DenialReasonTests
{
    [Fact]
    public void Control_characters_an_agent_sent_are_escaped_in_a_denial_reason()
    {
        // A schema error quoting an argument named "\u0000" made PostgreSQL refuse the decision's row.
        var decision = PolicyDecision.Deny(ReasonCodes.InvalidArguments, "property 'a\u0000b' is not allowed\r\n\u001b[31m");

        Assert.Equal("property 'a\\u0000b' is not allowed\\u000d\\u000a\\u001b[31m", decision.Reason);
        Assert.DoesNotContain(decision.Reason, char.IsControl);
    }

    [Fact]
    public void An_ordinary_reason_is_unchanged() =>
        Assert.Equal("Tool 'x' is not in the policy.", PolicyDecision.Deny(ReasonCodes.UnknownTool, "Tool 'x' is not in the policy.").Reason);
}
