namespace AgentBus.Contracts;

/// <summary>
/// One place in a result the executor masked because the agent is not cleared to receive what was
/// there (the agent's <c>receives</c> in the policy). The value is gone; its class and JSON Pointer
/// (into the result as the tool returned it) remain. The masked value reads "[masked:CLASS]".
/// </summary>
/// <param name="Class">A data class (pii.email, secret.api_key, …), or <see cref="Uninspected"/>.</param>
/// <param name="Pointer">
/// RFC 6901 pointer into the result as the tool returned it; for a finding in a member's name, that
/// member's. A segment that is itself sensitive (a name that is an address) reads "[masked:CLASS]".
/// </param>
/// <param name="InPropertyName">The data was in the member's name, which was replaced; its value was kept.</param>
public sealed record MaskedData(string Class, string Pointer, bool InPropertyName = false)
{
    /// <summary>The result was too large or held too many findings to inspect to the end, so all of it was masked (AgentBus.DataBoundaries.DataMasker.Uninspected).</summary>
    public const string Uninspected = "uninspected";

    public static string Mask(string dataClass) => $"[masked:{dataClass}]";
}
