using System.ComponentModel.DataAnnotations;

namespace AgentBus.Executor.Tools;

/// <summary>The "Tool" section of ops/tools/NAME.json.</summary>
public sealed class ToolOptions
{
    public const string Section = "Tool";

    [Required(ErrorMessage = "Tool:Kind is required (for example \"http\").")]
    public string Kind { get; set; } = "";

    /// <summary>Calls one copy of the executor runs at once. Copies scale the tool; this scales one copy.</summary>
    [Range(1, 256, ErrorMessage = "Tool:ConcurrentMessageLimit must be between 1 and 256.")]
    public int ConcurrentMessageLimit { get; set; } = 8;

    /// <summary>Commands RabbitMQ hands one copy ahead of time; at least ConcurrentMessageLimit, or calls wait on the network.</summary>
    [Range(1, 1024, ErrorMessage = "Tool:PrefetchCount must be between 1 and 1024.")]
    public int PrefetchCount { get; set; } = 16;

    [Range(typeof(decimal), "0", "1000000", ErrorMessage = "Tool:UnitCostUsd must be between 0 and 1000000.")]
    public decimal UnitCostUsd { get; set; }

    /// <summary>
    /// The system recognises a repeated request by its Idempotency-Key (the action id), so a call
    /// whose outcome is unknown (a 5xx, a timeout) may be retried. Otherwise only calls that
    /// certainly did not reach the system (connection refused, 429) are retried.
    /// </summary>
    public bool Idempotent { get; set; }

    /// <summary>The tool only reads (HTTP: GET only). Implies idempotent; allows <see cref="CacheTtl"/>.</summary>
    public bool ReadOnly { get; set; }

    /// <summary>Read-only tools (or a catalog's read-only operations): serve a success again for the same canonical arguments within this time (0: no cache).</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00", ErrorMessage = "Tool:CacheTtl must be between 0 and 1 day.")]
    public TimeSpan CacheTtl { get; set; } = TimeSpan.Zero;

    [Range(1, 1_000_000, ErrorMessage = "Tool:CacheMaxEntries must be between 1 and 1000000.")]
    public int CacheMaxEntries { get; set; } = 10_000;

    /// <summary>
    /// JSONPath expressions (e.g. "$.body.card.number", "$..password") whose values are replaced by
    /// "[redacted]" in the result before it is recorded or sent anywhere. The tool's own secret is
    /// always masked wherever a result echoes it.
    /// </summary>
    public List<string> Redact { get; set; } = [];

    /// <summary>
    /// Kind "catalog": the operation catalog folder (relative paths from the tools folder), whose
    /// TOOL.yaml says how each operation runs. The policy service reads the same files.
    /// </summary>
    public string? Catalog { get; set; }

    /// <summary>
    /// Kind "catalog": where this deployment reaches the system (scheme, host, port, path), instead of
    /// the catalog's http.baseUrl; agents never choose it, so it is the operator's alone.
    /// </summary>
    public string? BaseUrl { get; set; }

    public ToolResilienceOptions Resilience { get; set; } = new();

    public HttpToolOptions Http { get; set; } = new();

    /// <summary>Retries are allowed for every transient failure, not only those that certainly did not reach the system.</summary>
    public bool MayRetryUnknownOutcomes => Idempotent || ReadOnly;

    /// <summary>These settings as one catalog operation runs: its cost, idempotency and read-only flag, its timeout and retries where it sets them.</summary>
    public ToolOptions ForOperation(decimal unitCostUsd, bool idempotent, bool readOnly, TimeSpan? attemptTimeout, int? maxRetries)
    {
        var copy = (ToolOptions)MemberwiseClone();
        copy.UnitCostUsd = unitCostUsd;
        copy.Idempotent = idempotent;
        copy.ReadOnly = readOnly;
        copy.Resilience = Resilience.Copy();
        copy.Resilience.AttemptTimeout = attemptTimeout ?? Resilience.AttemptTimeout;
        // One attempt must fit in the whole: an operation's longer timeout stretches the total with it.
        copy.Resilience.TotalTimeout = copy.Resilience.AttemptTimeout > Resilience.TotalTimeout ? copy.Resilience.AttemptTimeout : Resilience.TotalTimeout;
        copy.Resilience.MaxRetries = maxRetries ?? Resilience.MaxRetries;
        return copy;
    }
}

/// <summary>"Tool:Resilience": one Polly pipeline per tool (total timeout, retry, circuit breaker, attempt timeout).</summary>
public sealed class ToolResilienceOptions
{
    public ToolResilienceOptions Copy() => (ToolResilienceOptions)MemberwiseClone();

    [Range(typeof(TimeSpan), "00:00:00.010", "00:05:00", ErrorMessage = "Tool:Resilience:AttemptTimeout must be between 10 ms and 5 minutes.")]
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    [Range(typeof(TimeSpan), "00:00:00.010", "00:15:00", ErrorMessage = "Tool:Resilience:TotalTimeout must be between 10 ms and 15 minutes.")]
    public TimeSpan TotalTimeout { get; set; } = TimeSpan.FromSeconds(30);

    [Range(0, 10, ErrorMessage = "Tool:Resilience:MaxRetries must be between 0 and 10.")]
    public int MaxRetries { get; set; } = 3;

    /// <summary>First retry delay; doubles with jitter after that.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00", ErrorMessage = "Tool:Resilience:RetryDelay must be between 0 and 1 minute.")]
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    [Range(0.01, 1.0, ErrorMessage = "Tool:Resilience:BreakerFailureRatio must be between 0.01 and 1.")]
    public double BreakerFailureRatio { get; set; } = 0.5;

    [Range(2, 10_000, ErrorMessage = "Tool:Resilience:BreakerMinimumThroughput must be between 2 and 10000.")]
    public int BreakerMinimumThroughput { get; set; } = 10;

    [Range(typeof(TimeSpan), "00:00:00.500", "01:00:00", ErrorMessage = "Tool:Resilience:BreakerSamplingDuration must be between 0.5 s and 1 hour.")]
    public TimeSpan BreakerSamplingDuration { get; set; } = TimeSpan.FromSeconds(30);

    [Range(typeof(TimeSpan), "00:00:00.500", "01:00:00", ErrorMessage = "Tool:Resilience:BreakerBreakDuration must be between 0.5 s and 1 hour.")]
    public TimeSpan BreakerBreakDuration { get; set; } = TimeSpan.FromSeconds(15);
}

public sealed class HttpToolOptions
{
    /// <summary>host:port pairs the tool may call; anything else is refused before a connection is made.</summary>
    public List<string> AllowedHosts { get; set; } = [];

    /// <summary>The header that carries the tool's secret, e.g. "Authorization" or "X-Api-Key".</summary>
    public string SecretHeader { get; set; } = "Authorization";

    /// <summary>Put before the secret in that header, e.g. "Bearer ".</summary>
    public string SecretPrefix { get; set; } = "";

    /// <summary>Top-level property of a JSON response that names the record the call created.</summary>
    public string? ExternalReferenceProperty { get; set; } = "id";

    [Range(1024, 16 * 1024 * 1024)]
    public int MaxResponseBytes { get; set; } = 1024 * 1024;
}
