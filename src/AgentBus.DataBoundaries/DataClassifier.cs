using System.Text.Json;

namespace AgentBus.DataBoundaries;

/// <summary>
/// Finds secrets and personal data in tool arguments and results. Pure and thread-safe: every call
/// works on its own state, never throws on hostile input, and stops at the bounds of
/// <see cref="ClassifierOptions"/>. Findings carry a class and a JSON Pointer, never the value.
/// </summary>
public static class DataClassifier
{
    /// <summary>Every string (and number) of the document, property names included unless switched off.</summary>
    public static DataClassification Classify(JsonElement document, ClassifierOptions? options = null)
    {
        var inspection = new Inspection(options ?? ClassifierOptions.Default);
        inspection.Walk(document);
        return inspection.Result();
    }

    /// <summary>A document that is text rather than JSON (a result body, a log line); findings point at "".</summary>
    public static DataClassification Classify(string text, ClassifierOptions? options = null)
    {
        var inspection = new Inspection(options ?? ClassifierOptions.Default);
        inspection.ScanValue(text, inPropertyName: false);
        return inspection.Result();
    }
}
