using System.Text.Json;
using System.Text.Json.Nodes;
using AgentBus.Catalog.Schemas;
using Json.Schema;

namespace AgentBus.Catalog;

/// <summary>
/// The operation that undoes another (payments.refund → payments.cancel_refund), with where each of
/// its arguments comes from: the original arguments, the original result, or a constant. Checked at
/// load against both operations' schemas, so only a value the call returned can be missing later.
/// </summary>
public sealed class Compensation
{
    public required string Tool { get; init; }

    /// <summary>The compensating operation's short name (cancel_refund).</summary>
    public required string Operation { get; init; }

    public string FullName => $"{Tool}.{Operation}";

    /// <summary>Whether an argument comes from the original arguments: then the policy service keeps them for the undo.</summary>
    public bool ReadsArguments => Arguments.Any(a => a.Pointer is { } pointer && JsonPointers.Parse(pointer) is [CompensationArgument.ArgumentsRoot, ..]);

    /// <summary>In the order the catalog lists them.</summary>
    public required IReadOnlyList<CompensationArgument> Arguments { get; init; }

    /// <summary>The compensating operation's argument schema: what <see cref="Build"/> checks its result against.</summary>
    public required JsonSchema ArgumentSchema { get; init; }

    /// <summary>
    /// The compensating operation's arguments for one original call: <paramref name="originalArguments"/> as the
    /// agent sent them, <paramref name="originalResult"/> as ActionSucceeded carried it ({"status": 200, "body": …}
    /// for an HTTP operation).
    /// </summary>
    public CompensationBuild Build(JsonElement originalArguments, JsonElement originalResult)
    {
        var built = new JsonObject();
        foreach (var argument in Arguments)
        {
            if (argument.Pointer is not { } pointer)
            {
                built[argument.Name] = JsonSerializer.SerializeToNode(argument.Value!.Value);
                continue;
            }
            var tokens = JsonPointers.Parse(pointer)!;
            var root = tokens[0] == CompensationArgument.ArgumentsRoot ? originalArguments : originalResult;
            if (!JsonPointers.TryResolve(root, tokens.Skip(1), out var found))
                return CompensationBuild.Failed(
                    $"{FullName}: argument '{argument.Name}' comes from {pointer}, which found nothing in the original {(tokens[0] == CompensationArgument.ArgumentsRoot ? "arguments" : "result")}.");
            built[argument.Name] = JsonSerializer.SerializeToNode(found);
        }
        var arguments = JsonSerializer.SerializeToElement(built);
        if (!ArgumentSchemas.Matches(ArgumentSchema, arguments))
            return CompensationBuild.Failed($"{FullName}: the built arguments do not fit its schema: {ArgumentSchemas.Describe(ArgumentSchema, arguments)}.");
        return new(arguments, null);
    }
}

/// <summary>One argument of a compensating call: from <see cref="Pointer"/> (into {"arguments", "result"}) or the constant <see cref="Value"/>.</summary>
public sealed record CompensationArgument(string Name, string? Pointer, JsonElement? Value)
{
    public const string ArgumentsRoot = "arguments";
    public const string ResultRoot = "result";
}

/// <summary>The compensating arguments, or why they could not be built (the pointer that found nothing, the schema's complaint).</summary>
public sealed record CompensationBuild(JsonElement? Arguments, string? Error)
{
    public bool Succeeded => Arguments is not null;

    public static CompensationBuild Failed(string error) => new(null, error);
}
