using System.Text.Json;

namespace AgentBus.Executor.Tools;

/// <summary>
/// A tool plugin: performs one authorized call. It never decides whether the call may run; by the
/// time it is called, policy, signature and claim checks have all passed.
/// </summary>
public interface ITool
{
    Task<ToolOutcome> ExecuteAsync(ToolCall call, CancellationToken cancellationToken);
}

public sealed record ToolCall(string ActionId, string RunId, string AgentId, JsonElement Arguments, string IdempotencyKey);

public sealed record ToolOutcome(
    bool Succeeded,
    JsonElement Result,
    string? ExternalReference,
    string? ErrorCode = null,
    string? Error = null,
    bool OutcomeUnknown = false)
{
    public static ToolOutcome Success(JsonElement result, string? externalReference) => new(true, result, externalReference);

    /// <summary>A failure where the side effect certainly did not happen (refused before sending).</summary>
    public static ToolOutcome NotExecuted(string errorCode, string error) => new(false, default, null, errorCode, error);

    /// <summary>A failure after the request may have reached the system: nobody may retry it blindly.</summary>
    public static ToolOutcome Unknown(string errorCode, string error) => new(false, default, null, errorCode, error, OutcomeUnknown: true);
}
