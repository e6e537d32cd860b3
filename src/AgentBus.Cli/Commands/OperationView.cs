using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using AgentBus.Catalog;
using AgentBus.DataBoundaries;

namespace AgentBus.Cli.Commands;

/// <summary>
/// Who may call an operation, as one short line ("support-bot (approval), billing-bot"). `tools list`
/// and `tools show` print it in a column of its own when one is given; the policy view (which agents
/// a policy lets call what) supplies it. Without one they show the catalog alone.
/// </summary>
delegate string? OperationAccess(CatalogOperation operation);

/// <summary>
/// One catalog operation as `agentbus tools list` and `tools show` print it (and as their --json).
/// <see cref="Accepts"/> describes the sensitive data its arguments may carry ("pii.email (at most 2)",
/// "nothing"); <see cref="AcceptsClasses"/> and <see cref="AcceptsMax"/> are the same for a program.
/// </summary>
sealed record OperationView(
    string Name,
    string Tool,
    string Operation,
    string Description,
    IReadOnlyList<string> Capabilities,
    string Risk,
    bool ReadOnly,
    bool Idempotent,
    decimal UnitCostUsd,
    string? Method,
    string? Url,
    string? Body,
    string? BodyArgument,
    IReadOnlyDictionary<string, string>? HeaderArguments,
    string? ExternalReference,
    string? Timeout,
    int? Retries,
    CompensationView? Compensation,
    bool Irreversible,
    string? IrreversibleReason,
    string Accepts,
    IReadOnlyList<string> AcceptsClasses,
    IReadOnlyDictionary<string, int> AcceptsMax,
    JsonNode Arguments,
    IReadOnlyList<string> Untranslated,
    string Source,
    int Line,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Access)
{
    /// <summary><paramref name="boundary"/>: one agent's (its grant narrows the operation's); the catalog's when null.</summary>
    public static OperationView Of(CatalogOperation operation, OperationAccess? access = null, DataBoundary? boundary = null)
    {
        var http = operation.Http;
        boundary ??= operation.DataBoundary;
        return new(
            operation.FullName, operation.Tool, operation.Name, operation.Description, operation.Capabilities, operation.Risk,
            operation.ReadOnly, operation.Idempotent, operation.UnitCostUsd,
            http?.Method, http?.Url.ToString(), http is null ? null : http.Body.ToString().ToLowerInvariant(), http?.BodyArgument,
            http is { HeaderArguments.Count: > 0 } ? http.HeaderArguments : null, http?.ExternalReference,
            http?.Timeout is { } timeout ? Durations.Format(timeout) : null, http?.Retries,
            operation.Compensation is { } compensation ? CompensationView.Of(compensation) : null, operation.Irreversible, operation.IrreversibleReason,
            boundary.Describe(), boundary.Accepts.Order(StringComparer.Ordinal).ToList(),
            new SortedDictionary<string, int>(boundary.Max.ToDictionary(), StringComparer.Ordinal),
            operation.ArgumentSchemaJson.DeepClone(), operation.Untranslated, operation.Source, operation.Line,
            access?.Invoke(operation));
    }

    /// <summary>"cancel_refund", "irreversible" or "": what undoes it, for the list's column.</summary>
    [JsonIgnore]
    public string Undo => Compensation?.Operation ?? (Irreversible ? "irreversible" : "");

    /// <summary>"owner*, repo*, title*, body": the argument names, required ones starred.</summary>
    [JsonIgnore]
    public string ArgumentNames
    {
        get
        {
            var required = (Arguments["required"] as JsonArray)?.Select(n => n?.GetValue<string>()).ToHashSet() ?? [];
            var names = (Arguments["properties"] as JsonObject)?.Select(p => required.Contains(p.Key) ? p.Key + "*" : p.Key) ?? [];
            return string.Join(", ", names);
        }
    }
}

/// <summary>
/// The operation that undoes another, as the catalog declares it: each argument a JSON Pointer into
/// {"arguments", "result"} of the original call, or {"value": CONSTANT}.
/// </summary>
sealed record CompensationView(string Operation, JsonObject Arguments)
{
    public static CompensationView Of(Compensation compensation)
    {
        var arguments = new JsonObject();
        foreach (var argument in compensation.Arguments)
            arguments[argument.Name] = argument.Pointer is { } pointer
                ? JsonValue.Create(pointer)
                : new JsonObject { ["value"] = JsonSerializer.SerializeToNode(argument.Value!.Value) };
        return new(compensation.FullName, arguments);
    }

    /// <summary>"payments.cancel_refund (refundId ← /result/body/refundId, note = \"…\")".</summary>
    public override string ToString() =>
        $"{Operation} ({string.Join(", ", Arguments.Select(a => a.Value is JsonObject constant ? $"{a.Key} = {constant["value"]?.ToJsonString() ?? "null"}" : $"{a.Key} ← {a.Value}"))})";
}
