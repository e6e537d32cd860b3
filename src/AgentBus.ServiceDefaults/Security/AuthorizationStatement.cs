using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.ServiceDefaults.Json;

namespace AgentBus.ServiceDefaults.Security;

/// <summary>
/// The exact bytes the policy service signs for one command: an RFC 8785 canonical JSON object, so
/// an executor in any language can rebuild it. Everything an executor acts on is in it except the
/// arguments themselves, which are bound through their hash, the operation, when the tool has operations,
/// and the result clearance, when the policy service sets it (it always does now).
/// </summary>
public static class AuthorizationStatement
{
    public const string Version = "agentbus-tool-authorization/v1";

    public static byte[] For(ExecuteTool command, string keyId, string? approvalId, DateTimeOffset notAfter)
    {
        var statement = new SortedDictionary<string, object?>(StringComparer.Ordinal)
        {
            ["v"] = Version,
            ["keyId"] = keyId,
            ["actionId"] = command.ActionId,
            ["runId"] = command.RunId,
            ["agentId"] = command.AgentId,
            ["tool"] = command.Tool,
            ["argumentsHash"] = command.ArgumentsHash,
            ["idempotencyKey"] = command.IdempotencyKey,
            ["approvalId"] = approvalId,
            ["notAfter"] = notAfter.ToUnixTimeMilliseconds(),
        };
        // Present only for an operation, so a generic tool's statement is what it always was; a
        // command stripped of its operation, or given another, no longer matches its signature.
        if (command.Operation is not null)
            statement["operation"] = command.Operation;
        // Likewise: signed when present, so a clearance widened or removed breaks the signature; a
        // command signed without one clears nothing (the executor then masks every class it finds).
        if (command.ResultClearance is not null)
            statement["resultClearance"] = command.ResultClearance.Order(StringComparer.Ordinal).ToArray();
        return CanonicalJson.Serialize(JsonSerializer.SerializeToElement(statement));
    }

    /// <summary>Expiry is signed in whole milliseconds; a time is cut to that before it is signed or sent.</summary>
    public static DateTimeOffset ToWholeMilliseconds(DateTimeOffset time) =>
        DateTimeOffset.FromUnixTimeMilliseconds(time.ToUnixTimeMilliseconds());
}
