using AgentBus.Contracts;

namespace AgentBus.Client.Functions;

public static class AgentBusFunctions
{
    /// <summary>
    /// The offered operations as functions for a model (for <c>ChatOptions.Tools</c>), each proposing
    /// through this client into <paramref name="runId"/>. Map a model's function name back to its
    /// operation through <see cref="AgentBusFunction.Operation"/>, never by parsing the name.
    /// </summary>
    public static IReadOnlyList<AgentBusFunction> AsAIFunctions(this AgentClient client, OperationsOffer offer, string runId,
        AgentBusFunctionOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(runId);
        if (!string.Equals(offer.AgentId, client.AgentId, StringComparison.Ordinal))
            throw new ArgumentException($"The offer is for agent {offer.AgentId}, the client is agent {client.AgentId}.", nameof(offer));
        if (offer.Operations.GroupBy(o => o.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new ArgumentException($"The offer names two operations {twice.Key} ({string.Join(", ", twice.Select(o => o.Title))}).", nameof(offer));
        return [.. offer.Operations.Select(operation => new AgentBusFunction(client, operation, runId, options))];
    }
}
