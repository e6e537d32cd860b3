using System.Text.Json;
using AgentBus.Contracts;

namespace AgentBus.Client.Functions;

/// <summary>
/// What a model reads back from a function call, for every way an action can end. A denial, an
/// approval to wait for, a failure and a timeout are answers the model can act on, not exceptions
/// (a function-invoking chat client would turn an exception into an opaque error). Nothing here
/// carries a credential: only the decision, the outcome and their ids.
/// </summary>
public static class FunctionResults
{
    public const string Succeeded = "succeeded";
    public const string Denied = DecisionNames.Denied;
    public const string ApprovalRequired = DecisionNames.ApprovalRequired;
    public const string Failed = "failed";
    public const string Timeout = "timeout";

    public static JsonElement From(ActionResult result) => result switch
    {
        { Succeeded: { } ok } => Json(new
        {
            status = Succeeded,
            result = ok.Result,
            externalReference = ok.ExternalReference,
            costUsd = ok.CostUsd,
        }),
        { Failed: { } failed } => Json(new
        {
            status = Failed,
            errorCode = failed.ErrorCode,
            error = failed.Error,
            outcomeUnknown = failed.OutcomeUnknown,
            advice = failed.OutcomeUnknown
                ? "The call may have taken effect. Do not retry it: an operator reconciles it. Tell the user it is unresolved."
                : "The call had no effect. Change the arguments or tell the user; retry only if the error says a retry can help.",
        }),
        { Decision.Decision: Decision.ApprovalRequired } => PendingApproval(result.Decision),
        _ => Refused(result.Decision),
    };

    /// <summary>The policy said no: the reason code as <c>error</c>, the rule that decided, and why in words.</summary>
    public static JsonElement Refused(ActionDecided decision) => Json(new
    {
        status = Denied,
        error = decision.ReasonCode,
        rule = decision.RuleId,
        reason = decision.Reason,
        advice = "AgentBus refused this call and nothing was done. Do not repeat it unchanged; change course or tell the user why.",
    });

    public static JsonElement PendingApproval(ActionDecided decision) => Json(new
    {
        status = ApprovalRequired,
        approvalId = decision.ApprovalId,
        actionId = decision.ActionId,
        reason = decision.Reason,
        advice = "A person must approve this call. It runs by itself once approved (and not if denied): do not call it again. " +
                 "Tell the user it is waiting for approval.",
    });

    /// <param name="decision">The decision, when one came before the time ran out (allowed: the action waits for an executor).</param>
    public static JsonElement TimedOut(string actionId, ActionDecided? decision, TimeSpan waited) => Json(new
    {
        status = Timeout,
        actionId,
        decision = decision?.Decision.WireName(),
        advice = $"AgentBus gave no final answer within {waited.TotalSeconds:0} s; the action may still run. " +
                 "Do not call this function again for the same request (that could do it twice); tell the user it is pending, " +
                 $"with action id {actionId}.",
    });

    static JsonElement Json<T>(T value) => JsonSerializer.SerializeToElement(value, AgentClient.Json);
}
