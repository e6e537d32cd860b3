using System.ComponentModel.DataAnnotations;

namespace AgentBus.Executor.Tools;

/// <summary>The "Tool" section of ops/tools/NAME.json.</summary>
public sealed class ToolOptions
{
    public const string Section = "Tool";

    [Required(ErrorMessage = "Tool:Kind is required (for example \"http\").")]
    public string Kind { get; set; } = "";

    [Range(1, 256, ErrorMessage = "Tool:ConcurrentMessageLimit must be between 1 and 256.")]
    public int ConcurrentMessageLimit { get; set; } = 8;

    [Range(1, 1024, ErrorMessage = "Tool:PrefetchCount must be between 1 and 1024.")]
    public int PrefetchCount { get; set; } = 16;

    [Range(typeof(decimal), "0", "1000000", ErrorMessage = "Tool:UnitCostUsd must be between 0 and 1000000.")]
    public decimal UnitCostUsd { get; set; }

    public HttpToolOptions Http { get; set; } = new();
}

public sealed class HttpToolOptions
{
    /// <summary>host:port pairs the tool may call; anything else is refused before a connection is made.</summary>
    public List<string> AllowedHosts { get; set; } = [];

    /// <summary>The header that carries the tool's secret, e.g. "Authorization" or "X-Api-Key".</summary>
    public string SecretHeader { get; set; } = "Authorization";

    /// <summary>Put before the secret in that header, e.g. "Bearer ".</summary>
    public string SecretPrefix { get; set; } = "";

    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Top-level property of a JSON response that names the record the call created.</summary>
    public string? ExternalReferenceProperty { get; set; } = "id";

    [Range(1024, 16 * 1024 * 1024)]
    public int MaxResponseBytes { get; set; } = 1024 * 1024;
}
