using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.DataBoundaries;

namespace AgentBus.Executor.Execution;

/// <summary>What the agent may see of a result, and what was taken out of it.</summary>
public sealed record MaskedResult(JsonElement Result, string? ExternalReference, IReadOnlyList<MaskedData> Masked);

/// <summary>
/// Masks, in a tool's result, every class of sensitive data the agent is not cleared to receive (its
/// <c>receives</c>, carried signed in the command as the result clearance). Runs after the tool's own
/// redaction and before the outcome is recorded, so no copy the executor keeps or sends (the claim row,
/// a repeated outcome, the audit) holds what the agent may not see.
/// </summary>
public static class ResultMasker
{
    public static MaskedResult Mask(JsonElement result, string? externalReference, IReadOnlyCollection<string>? clearance)
    {
        var cleared = clearance ?? [];
        var masked = DataMasker.Mask(result, f => cleared.Contains(f.Class), MaskedData.Mask);
        var visible = masked.Document;
        // The contract promises an object; a result masked whole says so in one.
        if (visible.ValueKind != JsonValueKind.Object && result.ValueKind == JsonValueKind.Object)
            visible = JsonSerializer.SerializeToElement(new Dictionary<string, JsonElement> { ["masked"] = visible });
        var places = masked.Masked.Select(f => new MaskedData(f.Class, DataPointers.Safe(f.Pointer), f.InPropertyName)).ToList();
        return new MaskedResult(visible, MaskReference(externalReference, cleared, masked.Incomplete), places);
    }

    /// <summary>An external reference the agent may not see is masked too: it is a copy of a value in the result.</summary>
    static string? MaskReference(string? reference, IReadOnlyCollection<string> cleared, bool resultUninspected)
    {
        if (reference is null)
            return null;
        if (resultUninspected)
            return MaskedData.Mask(MaskedData.Uninspected);
        var refused = DataClassifier.Classify(reference).Findings.Select(f => f.Class).Where(c => !cleared.Contains(c))
            .Order(StringComparer.Ordinal).FirstOrDefault();
        return refused is null ? reference : MaskedData.Mask(refused);
    }
}
