using System.Text.Json.Nodes;
using AgentBus.Catalog.Yaml;

namespace AgentBus.Catalog;

/// <summary>
/// One tool's catalog file as written (YAML, ops/catalog/TOOL.yaml): the operations an agent may
/// name, what each does, what it takes and how it runs. docs/catalog.md describes the format.
/// </summary>
public sealed class CatalogDocument : IHasLine
{
    public string Tool { get; set; } = "";
    public string? Description { get; set; }
    public HttpToolEntry? Http { get; set; }
    public List<OperationEntry> Operations { get; set; } = [];
    public int Line { get; set; }

    /// <summary>What every HTTP operation of the tool shares: where the system is and how to sign in.</summary>
    public sealed class HttpToolEntry : IHasLine
    {
        /// <summary>scheme://host[:port][/path]: fixed, no template variables, credentials, query or fragment.</summary>
        public string BaseUrl { get; set; } = "";

        /// <summary>Sent on every call (e.g. a User-Agent some APIs require).</summary>
        public Dictionary<string, string> Headers { get; set; } = [];

        public SecretEntry? Secret { get; set; }
        public int Line { get; set; }
    }

    /// <summary>Where the tool's secret goes: always a header, so it never lands in a URL or an access log.</summary>
    public sealed class SecretEntry : IHasLine
    {
        public string Header { get; set; } = "Authorization";

        /// <summary>Put before the secret, e.g. "Bearer ".</summary>
        public string Prefix { get; set; } = "";

        public int Line { get; set; }
    }

    public sealed class OperationEntry : IHasLine
    {
        /// <summary>Unique within the tool; the full name is TOOL.NAME (payments.refund).</summary>
        public string Name { get; set; } = "";

        /// <summary>Written for a model: what the operation does, when to use it, what it changes.</summary>
        public string Description { get; set; } = "";

        public List<string> Capabilities { get; set; } = [];

        /// <summary>low, medium (default), high or critical.</summary>
        public string? Risk { get; set; }

        /// <summary>Changes nothing (HTTP GET or HEAD only); implies idempotent.</summary>
        public bool ReadOnly { get; set; }

        /// <summary>Repeating it with the same Idempotency-Key has the effect of one call, so an unknown outcome may be retried.</summary>
        public bool Idempotent { get; set; }

        public decimal UnitCostUsd { get; set; }

        /// <summary>JSON Schema (draft 2020-12) of the arguments, written in YAML; an object schema.</summary>
        public JsonNode? Arguments { get; set; }

        public HttpOperationEntry? Http { get; set; }

        /// <summary>The operation of the same tool that undoes this one, and how its arguments are built.</summary>
        public CompensationEntry? Compensation { get; set; }

        /// <summary>Cannot be undone by any operation of the catalog; a rollback reports it instead of guessing.</summary>
        public bool Irreversible { get; set; }

        /// <summary>Why it cannot be undone, for the operator reading a rollback plan.</summary>
        public string? IrreversibleReason { get; set; }

        /// <summary>
        /// The classes of sensitive data the arguments may carry (pii.email, …; docs/data-boundaries.md).
        /// Anything else the classifier finds is denied with data_boundary; none listed: it accepts nothing.
        /// </summary>
        public List<string>? Accepts { get; set; }

        /// <summary>Class → the most matches one call may carry, for classes it accepts ({pii.email: 1}).</summary>
        public Dictionary<string, int>? Max { get; set; }

        /// <summary>Written by `agentbus tools import`: what of the source could not be translated, for the reviewer.</summary>
        public List<string> Untranslated { get; set; } = [];

        public int Line { get; set; }
    }

    public sealed class CompensationEntry : IHasLine
    {
        /// <summary>An operation of the same tool, by its short name (cancel_refund).</summary>
        public string Operation { get; set; } = "";

        /// <summary>
        /// Argument name → a JSON Pointer into {"arguments": the original arguments, "result": the original
        /// result} (a string such as /result/body/refundId), or a constant ({value: ...}).
        /// </summary>
        public JsonNode? Arguments { get; set; }

        public int Line { get; set; }
    }

    public sealed class HttpOperationEntry : IHasLine
    {
        public string Method { get; set; } = "";

        /// <summary>
        /// RFC 6570 template after the tool's baseUrl: {name} for a whole or part path segment, a
        /// trailing {?a,b} for query parameters. Each variable is an argument, percent-encoded into its place.
        /// </summary>
        public string Path { get; set; } = "";

        /// <summary>json, form or none; default none for GET, HEAD and DELETE, json otherwise.</summary>
        public string? Body { get; set; }

        /// <summary>The argument whose value is the whole body; default: every argument the path, query and headers do not use.</summary>
        public string? BodyArgument { get; set; }

        /// <summary>Fixed headers of this operation.</summary>
        public Dictionary<string, string> Headers { get; set; } = [];

        /// <summary>Header name → the argument whose value it carries (a string without control characters).</summary>
        public Dictionary<string, string> HeaderArguments { get; set; } = [];

        /// <summary>JSON Pointer into the response body naming what the call created or read, e.g. /id.</summary>
        public string? ExternalReference { get; set; }

        /// <summary>One attempt's time limit, e.g. 10s; default the tool's.</summary>
        public string? Timeout { get; set; }

        /// <summary>Retries of a failed attempt (0-10); default the tool's.</summary>
        public int? Retries { get; set; }

        public int Line { get; set; }
    }
}
