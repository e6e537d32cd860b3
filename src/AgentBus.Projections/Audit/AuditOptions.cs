using System.ComponentModel.DataAnnotations;
using AgentBus.Audit.Redaction;

namespace AgentBus.Projections.Audit;

/// <summary>The "Audit" settings of the projections host; docs/audit.md explains each.</summary>
public sealed class AuditOptions
{
    public const string Section = "Audit";

    /// <summary>Most events written in one transaction (per event type and batch).</summary>
    [Range(1, 10_000, ErrorMessage = "Audit:BatchSize must be between 1 and 10000.")]
    public int BatchSize { get; set; } = 500;

    /// <summary>Longest a partial batch waits for more events before it is written.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "00:00:10", ErrorMessage = "Audit:BatchTimeLimit must be between 1 ms and 10 s.")]
    public TimeSpan BatchTimeLimit { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Batches of one event type in flight at once (they take turns on the chain, but prepare in parallel).</summary>
    [Range(1, 16, ErrorMessage = "Audit:BatchConcurrency must be between 1 and 16.")]
    public int BatchConcurrency { get; set; } = 2;

    /// <summary>Messages RabbitMQ may hand each projections endpoint ahead of acknowledgement.</summary>
    [Range(1, 65_535, ErrorMessage = "Audit:PrefetchCount must be between 1 and 65535.")]
    public int PrefetchCount { get; set; } = 2_000;

    /// <summary>
    /// Largest proposal or run report the audit reads; larger ones are recorded as too large, with
    /// their first bytes kept raw. Keep it at least as large as Policy:MaxProposalBytes.
    /// </summary>
    [Range(1024, 16 * 1024 * 1024, ErrorMessage = "Audit:MaxIngressBytes must be between 1 KiB and 16 MiB.")]
    public int MaxIngressBytes { get; set; } = 1024 * 1024;

    /// <summary>How long unredacted payloads are kept before the purge job deletes them.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "3650.00:00:00", ErrorMessage = "Audit:RawPayloadRetention must be between 1 minute and 10 years.")]
    public TimeSpan RawPayloadRetention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How often the projections host purges expired raw payloads.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00", ErrorMessage = "Audit:RawPayloadPurgeInterval must be between 1 s and 1 day.")]
    public TimeSpan RawPayloadPurgeInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How long a command the policy service authorized may wait for its outcome before the audit
    /// records the authorization on its own (it is normally recorded with the outcome).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00", ErrorMessage = "Audit:AuthorizationSweepAfter must be between 1 s and 1 day.")]
    public TimeSpan AuthorizationSweepAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the projections host looks for such commands.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00", ErrorMessage = "Audit:AuthorizationSweepInterval must be between 100 ms and 1 hour.")]
    public TimeSpan AuthorizationSweepInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A JSON file with more settings under "Audit" (typically Audit:Redaction:Tools); read at start.</summary>
    public string? RedactionFile { get; set; }

    public RedactionOptions Redaction { get; set; } = new();

    internal static IEnumerable<string> Problems(AuditOptions options) => options.Redaction.Problems();
}
