using System.Text.Json;
using System.Text.Json.Nodes;
using AgentBus.Client;
using AgentBus.Contracts;
using ModelContextProtocol.Protocol;

namespace AgentBus.Mcp;

/// <summary>What one call is, as every answer names it: enough to call again for the same action.</summary>
public sealed record CallFacts(string AgentId, string Tool, string Operation, string ActionId, string RunId, string IdempotencyKey)
{
    public JsonObject Describe(string status, JsonObject? details = null)
    {
        var result = new JsonObject
        {
            ["status"] = status,
            ["operation"] = $"{Tool}.{Operation}",
            ["actionId"] = ActionId,
            ["runId"] = RunId,
            ["idempotencyKey"] = IdempotencyKey,
        };
        foreach (var (key, value) in details ?? [])
            result[key] = value?.DeepClone();
        return result;
    }
}

/// <summary>
/// Answers as a model reads them: text that says what happened and what to do next, the same facts as
/// structured content for programs. A denial, a failure, a timeout are tool errors (isError), so the
/// model sees them and can change course; an approval that is pending is not an error.
/// </summary>
public static class CallResults
{
    public static CallToolResult Final(CallFacts call, ActionResult result)
    {
        if (result.Succeeded is { } succeeded)
        {
            // An HTTP operation's result is {status, body}: the model is given the system's answer, the body.
            JsonElement body = default, status = default;
            var http = succeeded.Result.ValueKind == JsonValueKind.Object && succeeded.Result.TryGetProperty("body", out body)
                       && succeeded.Result.TryGetProperty("status", out status) && status.ValueKind == JsonValueKind.Number;
            var answer = http ? body : succeeded.Result;
            var details = new JsonObject
            {
                ["result"] = JsonNode.Parse(answer.GetRawText()),
                ["externalReference"] = succeeded.ExternalReference,
                ["costUsd"] = succeeded.CostUsd,
            };
            if (http)
                details["httpStatus"] = status.GetInt32();
            if (http && succeeded.Result.TryGetProperty("bodyProblem", out var problem))
                details["bodyProblem"] = problem.GetString();
            var structured = call.Describe("succeeded", details);
            return new CallToolResult
            {
                Content = [new TextContentBlock { Text = answer.ValueKind == JsonValueKind.String ? answer.GetString()! : answer.GetRawText() }],
                StructuredContent = JsonSerializer.SerializeToElement(structured, AgentClient.Json),
                IsError = false,
            };
        }
        if (result.Failed is { } failed)
        {
            var advice = failed.OutcomeUnknown
                ? " The outcome is unknown: it may have taken effect. Do not call it again; an operator reconciles it."
                : failed.Refused ? " Nothing was attempted." : "";
            return Error($"{call.Tool}.{call.Operation} failed: {failed.ErrorCode}: {failed.Error}.{advice}", call.Describe("failed", new JsonObject
            {
                ["errorCode"] = failed.ErrorCode,
                ["error"] = failed.Error,
                ["outcomeUnknown"] = failed.OutcomeUnknown,
                ["refused"] = failed.Refused,
            }));
        }

        var decision = result.Decision;
        var text = decision.ReasonCode switch
        {
            ReasonCodes.AgentSuspended => $"Denied: this agent is suspended by an operator ({decision.ReasonCode}). No operation will run until it is resumed. {decision.Reason}",
            ReasonCodes.ToolSuspended => $"Denied: the tool {call.Tool} is suspended by an operator ({decision.ReasonCode}). {decision.Reason}",
            _ => $"Denied by AgentBus policy: {decision.ReasonCode}{(decision.RuleId is { } rule ? $" (rule {rule})" : "")}. {decision.Reason}",
        };
        return Error(text, call.Describe("denied", new JsonObject
        {
            ["reasonCode"] = decision.ReasonCode,
            ["rule"] = decision.RuleId,
            ["reason"] = decision.Reason,
            ["policyVersion"] = decision.PolicyVersion,
        }));
    }

    public static CallToolResult AwaitingApproval(CallFacts call, string approvalId, string reason, string approvalsUrl)
    {
        var inbox = $"{approvalsUrl.TrimEnd('/')}/inbox/{approvalId}";
        var structured = call.Describe("approval_required", new JsonObject
        {
            ["approvalId"] = approvalId,
            ["inbox"] = inbox,
            ["reason"] = reason,
        });
        return new CallToolResult
        {
            Content =
            [
                new TextContentBlock
                {
                    Text = $"Waiting for a person's approval: {reason} Nothing has run yet. Approval {approvalId}: {inbox}. " +
                           $"To get the outcome once they decide, call this tool again with the same arguments and _meta " +
                           $"{{\"{OperationNames.IdempotencyKeyMeta}\": \"{call.IdempotencyKey}\", \"{OperationNames.RunIdMeta}\": \"{call.RunId}\"}}.",
                },
            ],
            StructuredContent = JsonSerializer.SerializeToElement(structured, AgentClient.Json),
            IsError = false,
        };
    }

    public static CallToolResult TimedOut(CallFacts call, TimeSpan waited) => Error(
        $"No answer from AgentBus within {waited.TotalSeconds:0} s. The action may still be decided and run. Do not call it with a new key; " +
        $"call again with the same arguments and _meta {{\"{OperationNames.IdempotencyKeyMeta}\": \"{call.IdempotencyKey}\", \"{OperationNames.RunIdMeta}\": \"{call.RunId}\"}} to get its outcome.",
        call.Describe("timeout", new JsonObject { ["waitedSeconds"] = waited.TotalSeconds }));

    public static CallToolResult Error(string text, JsonObject structured) => new()
    {
        Content = [new TextContentBlock { Text = text }],
        StructuredContent = JsonSerializer.SerializeToElement(structured, AgentClient.Json),
        IsError = true,
    };
}

/// <summary>The _meta keys a client may set on tools/call, checked as the proposal would check them.</summary>
public sealed record CallMeta(string? RunId, string? IdempotencyKey, string? Intent)
{
    public static (CallMeta? Meta, string? Error) Read(JsonObject? meta)
    {
        if (meta is null)
            return (new CallMeta(null, null, null), null);
        string? Text(string key, out string? error)
        {
            error = null;
            if (!meta.TryGetPropertyValue(key, out var node) || node is null)
                return null;
            if (node.GetValueKind() != JsonValueKind.String)
            {
                error = $"_meta \"{key}\" must be a string.";
                return null;
            }
            return node.GetValue<string>();
        }

        var runId = Text(OperationNames.RunIdMeta, out var error);
        if (error is not null)
            return (null, error);
        if (runId is not null && !ValidRunId(runId))
            return (null, $"_meta \"{OperationNames.RunIdMeta}\" must be 1-128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit.");
        var key = Text(OperationNames.IdempotencyKeyMeta, out error);
        if (error is not null)
            return (null, error);
        if (key is not null && (key.Length is 0 or > 200 || key.Any(char.IsControl)))
            return (null, $"_meta \"{OperationNames.IdempotencyKeyMeta}\" must be 1-200 characters without control characters.");
        var intent = Text(OperationNames.IntentMeta, out error);
        if (error is not null)
            return (null, error);
        if (intent is not null && (intent.Length > 2000 || intent.Contains('\0')))
            return (null, $"_meta \"{OperationNames.IntentMeta}\" must be at most 2000 characters without NUL.");
        return (new CallMeta(runId, key, intent), null);
    }

    static bool ValidRunId(string runId) =>
        runId.Length is > 0 and <= 128 && char.IsAsciiLetterOrDigit(runId[0])
        && runId.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or ':' or '-');
}
