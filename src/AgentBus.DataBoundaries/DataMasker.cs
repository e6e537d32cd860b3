using System.Text.Json;
using System.Text.Json.Nodes;

namespace AgentBus.DataBoundaries;

/// <summary>A document with the values of some classes masked, and the findings that were.</summary>
/// <param name="Incomplete">The classifier could not read the whole document, so all of it was masked.</param>
public sealed record MaskedDocument(JsonElement Document, IReadOnlyList<DataFinding> Masked, bool Incomplete);

/// <summary>
/// Replaces what the classifier finds in a JSON document, for the classes a caller may not keep: a
/// value becomes the mask text, a container whose values together hold the data (a split finding)
/// becomes the mask text, a member whose name holds it is renamed (its value stays, classified on its
/// own). A document that cannot be classified to the end is masked whole: what was not read may hold
/// anything. The executor masks results the agent may not receive; the audit masks what it stores.
/// </summary>
public static class DataMasker
{
    /// <summary>Bigger than a boundary check's limit: a masking that stopped early would let the rest through.</summary>
    public static ClassifierOptions Options { get; } = new() { MaxFindings = 10_000 };

    /// <summary>Class for a document masked whole because it could not be inspected to the end.</summary>
    public const string Uninspected = "uninspected";

    /// <param name="mayKeep">Findings the caller may keep as they are (by class, and where); every other one is masked.</param>
    /// <param name="mask">The text that replaces a value or a name, from its class.</param>
    public static MaskedDocument Mask(JsonElement document, Func<DataFinding, bool> mayKeep, Func<string, string> mask)
    {
        var classification = DataClassifier.Classify(document, Options);
        if (!classification.Complete)
            return new MaskedDocument(JsonSerializer.SerializeToElement(mask(Uninspected)), [new DataFinding(Uninspected, "")], Incomplete: true);

        var refused = classification.Findings.Where(f => !mayKeep(f)).ToList();
        if (refused.Count == 0)
            return new MaskedDocument(document, [], Incomplete: false);

        JsonNode? root;
        try
        {
            root = JsonNode.Parse(document.GetRawText());
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            root = null;
        }
        if (root is null || refused.Any(f => f.Pointer.Length == 0 && !f.InPropertyName))
        {
            var first = refused.Select(f => f.Class).Order(StringComparer.Ordinal).First();
            return new MaskedDocument(JsonSerializer.SerializeToElement(mask(first)), refused, Incomplete: false);
        }

        var masked = new List<DataFinding>();
        // Deepest first, so masking a container (a split value) never hides a finding inside it from the record;
        // names last, since renaming a member changes the pointers below it.
        foreach (var group in refused.Where(f => !f.InPropertyName).GroupBy(f => f.Pointer)
                     .OrderByDescending(g => Depth(g.Key)).ThenBy(g => g.Key, StringComparer.Ordinal))
        {
            var dataClass = group.Select(f => f.Class).Order(StringComparer.Ordinal).First();
            if (Replace(root, group.Key, JsonValue.Create(mask(dataClass))))
                masked.AddRange(group);
        }
        foreach (var finding in refused.Where(f => f.InPropertyName).OrderByDescending(f => Depth(f.Pointer)))
        {
            if (Rename(root, finding.Pointer, mask(finding.Class)))
                masked.Add(finding);
        }

        using var result = JsonDocument.Parse(root.ToJsonString());
        return new MaskedDocument(result.RootElement.Clone(), masked, Incomplete: false);
    }

    static int Depth(string pointer) => pointer.Count(c => c == '/');

    /// <summary>The container a pointer's last segment sits in, or null when the path no longer exists.</summary>
    static JsonNode? Parent(JsonNode root, List<string> segments)
    {
        var node = root;
        foreach (var segment in segments.Take(segments.Count - 1))
        {
            node = node switch
            {
                JsonObject obj => obj.TryGetPropertyValue(segment, out var child) ? child : null,
                JsonArray array => int.TryParse(segment, out var index) && index >= 0 && index < array.Count ? array[index] : null,
                _ => null,
            };
            if (node is null)
                return null;
        }
        return node;
    }

    static bool Replace(JsonNode root, string pointer, JsonNode replacement)
    {
        var segments = DataPointers.Tokens(pointer);
        switch (Parent(root, segments))
        {
            case JsonObject obj when obj.ContainsKey(segments[^1]):
                obj[segments[^1]] = replacement;
                return true;
            case JsonArray array when int.TryParse(segments[^1], out var index) && index >= 0 && index < array.Count:
                array[index] = replacement;
                return true;
            default:
                return false;
        }
    }

    /// <summary>Gives the member a masked name, keeping its value and its place among its siblings.</summary>
    static bool Rename(JsonNode root, string pointer, string maskedName)
    {
        var segments = DataPointers.Tokens(pointer);
        if (segments.Count == 0 || Parent(root, segments) is not JsonObject obj || !obj.ContainsKey(segments[^1]))
            return false;
        var members = obj.ToList();
        obj.Clear();
        foreach (var (name, value) in members)
        {
            var newName = name;
            if (name == segments[^1])
            {
                newName = maskedName;
                for (var n = 2; members.Any(m => m.Key == newName) || obj.ContainsKey(newName); n++)
                    newName = $"{maskedName} {n}";
            }
            obj[newName] = value;
        }
        return true;
    }
}
