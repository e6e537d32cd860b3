using System.Text.Json;
using AgentBus.Contracts;

namespace AgentBus.Client.Functions;

/// <summary>The part of <see cref="AgentClient"/> a function uses, so unit tests can answer in place of the pipeline.</summary>
internal interface IActionChannel
{
    string AgentId { get; }

    Task<string> ProposeAsync(string tool, JsonElement arguments, string runId, string? idempotencyKey = null, string? intent = null,
        string? actionId = null, CancellationToken cancellationToken = default, string? operation = null, string? compensates = null);

    Task<ActionDecided> DecisionAsync(string actionId, CancellationToken cancellationToken);

    Task<ActionResult> WaitAsync(string actionId, CancellationToken cancellationToken);
}
