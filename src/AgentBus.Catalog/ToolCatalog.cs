using System.Text.Json.Nodes;
using AgentBus.Catalog.Http;
using AgentBus.DataBoundaries;
using Json.Schema;

namespace AgentBus.Catalog;

/// <summary>Every tool of a catalog folder, checked and compiled; immutable, so readers need no locks.</summary>
public sealed class ToolCatalog
{
    public static readonly ToolCatalog Empty = new(new Dictionary<string, CatalogTool>(StringComparer.Ordinal), "none");

    public ToolCatalog(IReadOnlyDictionary<string, CatalogTool> tools, string version)
    {
        Tools = tools;
        Version = version;
    }

    public IReadOnlyDictionary<string, CatalogTool> Tools { get; }

    /// <summary>"sha256:…" over every file's name and bytes.</summary>
    public string Version { get; }

    /// <summary>Finds "tool.operation" (operation names have no dots; tool names may).</summary>
    public CatalogOperation? Find(string fullName)
    {
        var dot = fullName.LastIndexOf('.');
        return dot > 0 && Tools.TryGetValue(fullName[..dot], out var tool) && tool.Operations.TryGetValue(fullName[(dot + 1)..], out var operation)
            ? operation
            : null;
    }

    public IEnumerable<CatalogOperation> Operations => Tools.Values.SelectMany(t => t.Operations.Values);
}

public sealed class CatalogTool
{
    public required string Name { get; init; }
    public string? Description { get; init; }
    public required IReadOnlyDictionary<string, CatalogOperation> Operations { get; init; }
    public HttpTool? Http { get; init; }

    /// <summary>The file the tool was read from, for error messages and `tools show`.</summary>
    public required string Source { get; init; }

    public int Line { get; init; }
}

/// <param name="BaseUrl">Fixed scheme, host, port and path every operation's template starts with.</param>
public sealed record HttpTool(Uri BaseUrl, IReadOnlyDictionary<string, string> Headers, string SecretHeader, string SecretPrefix);

public sealed class CatalogOperation
{
    public required string Tool { get; init; }
    public required string Name { get; init; }
    public string FullName => $"{Tool}.{Name}";
    public required string Description { get; init; }
    public required IReadOnlyList<string> Capabilities { get; init; }
    public required string Risk { get; init; }
    public bool ReadOnly { get; init; }

    /// <summary>Declared idempotent, or read-only.</summary>
    public bool Idempotent { get; init; }

    public decimal UnitCostUsd { get; init; }
    public required JsonSchema ArgumentSchema { get; init; }
    public required JsonNode ArgumentSchemaJson { get; init; }
    public HttpOperation? Http { get; init; }

    /// <summary>The operation that undoes this one; null when none is declared.</summary>
    public Compensation? Compensation { get; init; }

    /// <summary>Declared impossible to undo; never together with a <see cref="Compensation"/>.</summary>
    public bool Irreversible { get; init; }

    public string? IrreversibleReason { get; init; }

    /// <summary>What sensitive data the arguments may carry; <see cref="DataBoundary.Closed"/> unless the catalog says otherwise.</summary>
    public DataBoundary DataBoundary { get; init; } = DataBoundary.Closed;

    public IReadOnlyList<string> Untranslated { get; init; } = [];
    public required string Source { get; init; }
    public int Line { get; init; }
}

public enum BodyKind
{
    None,
    Json,
    Form,
}

public sealed class HttpOperation
{
    public required string Method { get; init; }
    public required OperationUrlTemplate Url { get; init; }
    public BodyKind Body { get; init; }
    public string? BodyArgument { get; init; }
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();
    public IReadOnlyDictionary<string, string> HeaderArguments { get; init; } = new Dictionary<string, string>();

    /// <summary>JSON Pointer into the response body, e.g. "/id".</summary>
    public string? ExternalReference { get; init; }

    public TimeSpan? Timeout { get; init; }
    public int? Retries { get; init; }

    /// <summary>The arguments the URL and headers do not use: they make up the body unless <see cref="BodyArgument"/> is set.</summary>
    public required IReadOnlySet<string> PlacedArguments { get; init; }
}
