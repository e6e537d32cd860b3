using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.Policy.Engine;

namespace AgentBus.UnitTests.Policy;

/// <summary>What `agentbus actions resolve` refuses and the policy service ignores: one validator for both.</summary>
public class ResolveRequestValidatorTests
{
    static readonly ResolveRequestValidator Validator = new();

    static ResolveRequest Valid(bool succeeded = true) =>
        new("alice", "0193e3c2-6f1a-7c3b-9d4e-2a1b3c4d5e6f", succeeded, "Refund RF-1 is in the payments console",
            succeeded ? JsonDocument.Parse("""{"status": 201, "body": {"refundId": "RF-1"}}""").RootElement : null, "RF-1");

    static string Errors(ResolveRequest request) => string.Join(" | ", Validator.Validate(request).Errors.Select(e => e.ErrorMessage));

    [Fact]
    public void A_succeeded_and_a_failed_resolution_with_evidence_are_valid()
    {
        Assert.True(Validator.Validate(Valid()).IsValid, Errors(Valid()));
        Assert.True(Validator.Validate(Valid(succeeded: false)).IsValid, Errors(Valid(false)));
        Assert.True(Validator.Validate(Valid() with { Evidence = "line one\n\tline two" }).IsValid);
    }

    [Theory]
    [InlineData("", "'evidence' is required")]
    [InlineData("   ", "'evidence' is required")]
    [InlineData("ok\u001b[2J", "control characters")]
    [InlineData("ok\r\nforged log line", "control characters")]
    [InlineData("nul\0", "control characters")]
    public void Evidence_must_say_something_printable(string evidence, string expected) =>
        Assert.Contains(expected, Errors(Valid() with { Evidence = evidence }));

    [Fact]
    public void Evidence_is_length_limited() =>
        Assert.Contains("4000", Errors(Valid() with { Evidence = new string('e', ResolveRequestValidator.MaxEvidenceLength + 1) }));

    [Theory]
    [InlineData("[200]")]
    [InlineData("\"ok\"")]
    [InlineData("200")]
    [InlineData("true")]
    public void A_result_that_is_not_an_object_is_refused(string json) =>
        Assert.Contains("'result' must be a JSON object", Errors(Valid() with { Result = JsonDocument.Parse(json).RootElement }));

    [Fact]
    public void A_failed_resolution_has_no_result_and_a_huge_result_is_refused()
    {
        Assert.Contains("succeeded action only", Errors(Valid(false) with { Result = JsonDocument.Parse("{}").RootElement }));
        var huge = JsonSerializer.SerializeToElement(new { body = new string('x', ResolveRequestValidator.MaxResultBytes) });
        Assert.Contains("KiB", Errors(Valid() with { Result = huge }));
    }

    [Theory]
    [InlineData("", "'operator' is required")]
    [InlineData("al\nice", "control characters")]
    public void The_operator_is_named_plainly(string name, string expected) =>
        Assert.Contains(expected, Errors(Valid() with { Operator = name }));

    [Theory]
    [InlineData("")]
    [InlineData("a b")]
    [InlineData("'; DROP TABLE policy_actions; --")]
    [InlineData("-dash-first")]
    public void The_action_id_is_an_id(string id) =>
        Assert.False(Validator.Validate(Valid() with { ActionId = id }).IsValid);

    [Fact]
    public void The_external_reference_has_no_control_characters() =>
        Assert.Contains("control characters", Errors(Valid() with { ExternalReference = "RF-1\u0007" }));

    [Fact]
    public void An_operator_action_reads_back_as_the_request_it_was_built_from()
    {
        var request = Valid();
        var action = new OperatorActionTaken(request.Operator, OperatorActionNames.ResolveAction, request.ActionId, request.Evidence, request.Details(), DateTimeOffset.UtcNow);

        var read = ResolveRequest.From(action, out var problem);

        Assert.Null(problem);
        Assert.Equal((request.Operator, request.ActionId, request.Succeeded, request.Evidence, request.ExternalReference),
            (read!.Operator, read.ActionId, read.Succeeded, read.Evidence, read.ExternalReference));
        Assert.Equal("RF-1", read.Result!.Value.GetProperty("body").GetProperty("refundId").GetString());
    }

    [Theory]
    [InlineData("agent.suspend", """{"actionId": "a1", "succeeded": true}""", "not a resolution")]
    [InlineData("action.resolve", """["a1"]""", "must be a JSON object")]
    [InlineData("action.resolve", """{"actionId": "a1"}""", "'details.succeeded' must be true or false")]
    [InlineData("action.resolve", """{"actionId": "a1", "succeeded": "yes"}""", "not an action resolution")]
    [InlineData("action.resolve", """{"actionId": "a2", "succeeded": true}""", "differs from the target")]
    public void Details_of_the_wrong_shape_are_not_a_request(string name, string details, string expected)
    {
        var action = new OperatorActionTaken("alice", name, "a1", "why", JsonDocument.Parse(details).RootElement, DateTimeOffset.UtcNow);

        Assert.Null(ResolveRequest.From(action, out var problem));
        Assert.Contains(expected, problem);
    }
}
