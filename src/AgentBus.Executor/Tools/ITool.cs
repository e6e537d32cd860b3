using System.Text.Json;

namespace AgentBus.Executor.Tools;

/// <summary>
/// A tool plugin: performs one authorized call. It never decides whether the call may run; by the
/// time it is called, policy, signature and claim checks have all passed. Timeouts, retries, the
/// circuit breaker, caching and redaction are the executor's (ToolRunner), the same for every tool:
/// a plugin makes one attempt and says honestly what it knows about it.
/// </summary>
public interface ITool
{
    /// <param name="cancellationToken">Cancelled when the attempt's time is up; the plugin stops and may throw.</param>
    Task<ToolOutcome> ExecuteAsync(ToolCall call, CancellationToken cancellationToken);
}

/// <param name="IdempotencyKey">The action id unless the agent chose a key: pass it to the system so a retry is recognised.</param>
/// <param name="Operation">The catalog operation the policy service signed; null for a generic tool.</param>
public sealed record ToolCall(string ActionId, string RunId, string AgentId, JsonElement Arguments, string IdempotencyKey, string? Operation = null);

/// <summary>
/// A tool whose operations differ in how they may be run: per-operation timeout, retries and
/// idempotency from the catalog. ToolRunner builds one resilience pipeline per operation from these.
/// </summary>
public interface IOperationSettings
{
    /// <summary>The tool's options adjusted for this operation, and a key that changes when they do; null: the tool's own.</summary>
    (ToolOptions Options, string Key)? SettingsFor(string? operation);
}

/// <param name="OutcomeUnknown">The request may have taken effect although no success was seen.</param>
/// <param name="Transient">Trying again later could succeed (an unreachable host, a 5xx, a timeout), as opposed to a refusal.</param>
public sealed record ToolOutcome(
    bool Succeeded,
    JsonElement Result,
    string? ExternalReference,
    string? ErrorCode = null,
    string? Error = null,
    bool OutcomeUnknown = false,
    bool Transient = false,
    bool Refused = false)
{
    public static ToolOutcome Success(JsonElement result, string? externalReference) => new(true, result, externalReference);

    /// <summary>A failure where the side effect certainly did not happen (refused before sending, or by the system).</summary>
    public static ToolOutcome NotExecuted(string errorCode, string error, bool transient = false) =>
        new(false, default, null, errorCode, error, Transient: transient);

    /// <summary>The executor itself would not send this call (arguments unusable, destination off the allowlist, circuit open): nothing left the process.</summary>
    public static ToolOutcome Refusal(string errorCode, string error, bool transient = false) =>
        new(false, default, null, errorCode, error, Transient: transient, Refused: true);

    /// <summary>A failure after the request may have reached the system: only an idempotent tool may retry it.</summary>
    public static ToolOutcome Unknown(string errorCode, string error, bool transient = true) =>
        new(false, default, null, errorCode, error, OutcomeUnknown: true, Transient: transient);
}
