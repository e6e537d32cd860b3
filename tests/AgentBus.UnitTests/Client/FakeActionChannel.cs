using System.Text.Json;
using AgentBus.Client;
using AgentBus.Client.Functions;
using AgentBus.Contracts;

namespace AgentBus.UnitTests.Client;

/// <summary>
/// Answers proposals as the pipeline would, from a script: one decision (and result) per action id,
/// kept, so a proposal repeated under the same action id gets the same answer and is not counted again.
/// A null answer never comes (the function's time runs out).
/// </summary>
sealed class FakeActionChannel(Func<ProposalSeen, ActionResult?> answer) : IActionChannel
{
    readonly Dictionary<string, ActionResult?> _answers = new(StringComparer.Ordinal);

    public string AgentId => "support-bot";

    public List<ProposalSeen> Proposals { get; } = [];

    /// <summary>Action ids the pipeline ran (allowed and finished), each once.</summary>
    public HashSet<string> Ran { get; } = new(StringComparer.Ordinal);

    public Task<string> ProposeAsync(string tool, JsonElement arguments, string runId, string? idempotencyKey = null, string? intent = null,
        string? actionId = null, CancellationToken cancellationToken = default, string? operation = null, string? compensates = null)
    {
        var proposal = new ProposalSeen(actionId!, tool, operation, arguments, runId, idempotencyKey, intent);
        Proposals.Add(proposal);
        if (!_answers.ContainsKey(proposal.ActionId))
        {
            var result = answer(proposal);
            _answers[proposal.ActionId] = result;
            if (result is { Decision.Decision: Decision.Allowed })
                Ran.Add(proposal.ActionId);
        }
        return Task.FromResult(proposal.ActionId);
    }

    public async Task<ActionDecided> DecisionAsync(string actionId, CancellationToken cancellationToken) =>
        _answers[actionId] is { } result ? result.Decision : await Never<ActionDecided>(cancellationToken);

    public async Task<ActionResult> WaitAsync(string actionId, CancellationToken cancellationToken) =>
        _answers[actionId] is { Completed: true } result ? result : await Never<ActionResult>(cancellationToken);

    static async Task<T> Never<T>(CancellationToken cancellationToken)
    {
        await Task.Delay(Timeout.Infinite, cancellationToken);
        throw new InvalidOperationException("unreachable");
    }

    public static ActionDecided Decided(ProposalSeen proposal, Decision decision, string reasonCode, string reason, string? rule = null,
        string? approvalId = null) =>
        new(proposal.ActionId, proposal.RunId, "support-bot", proposal.Tool, decision, reasonCode, reason, rule, "sha256:test",
            DateTimeOffset.UtcNow, approvalId);

    public static ActionResult Succeeded(ProposalSeen proposal, object result, string? reference = null) =>
        new(proposal.ActionId, Decided(proposal, Decision.Allowed, ReasonCodes.Allowed, "Granted.", "support-bot-shop"),
            Succeeded: new ActionSucceeded(proposal.ActionId, proposal.RunId, "support-bot", proposal.Tool,
                JsonSerializer.SerializeToElement(result), reference, 0.001m, 12, 1, DateTimeOffset.UtcNow));
}

sealed record ProposalSeen(string ActionId, string Tool, string? Operation, JsonElement Arguments, string RunId, string? IdempotencyKey, string? Intent);
