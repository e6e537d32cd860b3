using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using AgentBus.DataBoundaries;
using Json.Schema;

namespace AgentBus.Catalog.Schemas;

/// <summary>
/// Argument schemas are built and checked the same way wherever they are: by the policy service
/// before it decides, and by the executor again before it builds a request.
/// </summary>
public static class ArgumentSchemas
{
    static readonly EvaluationOptions FlagOnly = new() { OutputFormat = OutputFormat.Flag };
    static readonly EvaluationOptions Detailed = new() { OutputFormat = OutputFormat.List };

    /// <summary>Throws <see cref="FormatException"/> (or JsonSchema.Net's own exceptions, see <see cref="IsBuildError"/>) when the schema does not compile.</summary>
    public static JsonSchema Build(JsonNode schemaJson, Uri baseUri)
    {
        var element = JsonSerializer.SerializeToElement(schemaJson);
        if (element.ValueKind == JsonValueKind.Object && element.TryGetProperty("$schema", out var dialect)
            && dialect.GetString()?.TrimEnd('#') != CodePointLength.Draft202012.ToString())
            throw new FormatException($"$schema must be {CodePointLength.Draft202012} or absent; argument schemas are JSON Schema 2020-12.");
        return JsonSchema.Build(element, CodePointLength.Options(), baseUri);
    }

    public static bool IsBuildError(Exception ex) =>
        ex is JsonSchemaException or RefResolutionException or JsonException or ArgumentException or InvalidOperationException or FormatException;

    /// <summary>A pattern that times out counts as a mismatch: an agent cannot stall a check with a crafted string.</summary>
    public static bool Matches(JsonSchema schema, JsonElement arguments)
    {
        try
        {
            return schema.Evaluate(arguments, FlagOnly).IsValid;
        }
        catch (RegexMatchTimeoutException)
        {
            return false;
        }
    }

    /// <summary>The first few errors as "/pointer: message"; only for the rare path, after <see cref="Matches"/> said no.</summary>
    public static string Describe(JsonSchema schema, JsonElement arguments)
    {
        try
        {
            var results = schema.Evaluate(arguments, Detailed);
            var errors = (results.Details ?? [])
                .Where(d => d.Errors is { Count: > 0 })
                .SelectMany(d => d.Errors!.Select(e => $"{(string.IsNullOrEmpty(d.InstanceLocation.ToString()) ? "/" : DataPointers.Safe(d.InstanceLocation.ToString()))}: {e.Value}"))
                .Take(3)
                .ToList();
            return errors.Count == 0 ? "invalid" : string.Join("; ", errors);
        }
        catch (RegexMatchTimeoutException)
        {
            return "a pattern took too long to check";
        }
    }

    /// <summary>The errors the schema finds at or under one place of the instance ("/resolution"), as "/pointer: message".</summary>
    public static IReadOnlyList<string> ErrorsUnder(JsonSchema schema, JsonElement instance, string location)
    {
        try
        {
            var results = schema.Evaluate(instance, Detailed);
            return (results.Details ?? [])
                .Where(d => d.Errors is { Count: > 0 })
                .Select(d => (Location: d.InstanceLocation.ToString(), d.Errors))
                .Where(d => d.Location == location || d.Location.StartsWith(location + "/", StringComparison.Ordinal))
                .SelectMany(d => d.Errors!.Select(e => $"{DataPointers.Safe(d.Location)}: {e.Value}"))
                .Take(3)
                .ToList();
        }
        catch (RegexMatchTimeoutException)
        {
            return [$"{location}: a pattern took too long to check"];
        }
    }
}
