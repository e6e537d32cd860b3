using System.Text.Json;

namespace AgentBus.Executor.Tools;

/// <summary>
/// A tool whose call does no I/O: it answers success at once with a fixed result and a reference
/// derived from the action id. For load and fault runs that measure the pipeline itself: every
/// command still goes through the signed authorization, the claim, the resilience pipeline and the
/// outcome events like any other tool's. Kind "noop" in the tool file.
/// </summary>
public sealed class NoopTool : ITool
{
    public const string Kind = "noop";

    static readonly JsonElement Result = JsonSerializer.SerializeToElement(new { done = true });

    public Task<ToolOutcome> ExecuteAsync(ToolCall call, CancellationToken cancellationToken) =>
        Task.FromResult(ToolOutcome.Success(Result, "noop-" + call.ActionId));
}
