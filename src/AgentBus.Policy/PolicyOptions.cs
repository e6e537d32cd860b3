using System.ComponentModel.DataAnnotations;

namespace AgentBus.Policy;

public sealed class PolicyOptions
{
    public const string Section = "Policy";

    [Required(ErrorMessage = "Policy:File is required.")]
    public string File { get; set; } = "";

    /// <summary>Proposals larger than this are refused before they are parsed (payload_too_large).</summary>
    [Range(1024, 4 * 1024 * 1024, ErrorMessage = "Policy:MaxProposalBytes must be between 1 KiB and 4 MiB.")]
    public int MaxProposalBytes { get; set; } = 64 * 1024;

    /// <summary>Spend reports larger than this are refused before they are parsed.</summary>
    [Range(256, 1024 * 1024, ErrorMessage = "Policy:MaxSpendReportBytes must be between 256 B and 1 MiB.")]
    public int MaxSpendReportBytes { get; set; } = 16 * 1024;

    [Range(1, 1000, ErrorMessage = "Policy:ConcurrentMessageLimit must be between 1 and 1000.")]
    public int ConcurrentMessageLimit { get; set; } = 32;

    /// <summary>How often the policy file is checked for changes.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:01:00", ErrorMessage = "Policy:ReloadInterval must be between 50 ms and 1 min.")]
    public TimeSpan ReloadInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How often the kill switch table is read; a suspension takes effect within this (and the admission step re-checks it).</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:00:01", ErrorMessage = "Policy:SuspensionRefreshInterval must be between 50 ms and 1 s.")]
    public TimeSpan SuspensionRefreshInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>A proposal with the same run, tool and canonical arguments within this window is a duplicate.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "7.00:00:00", ErrorMessage = "Policy:DuplicateWindow must be between 0 and 7 days.")]
    public TimeSpan DuplicateWindow { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How long an idempotency key stays claimed by its first admitted action.</summary>
    [Range(typeof(TimeSpan), "00:01:00", "30.00:00:00", ErrorMessage = "Policy:IdempotencyKeyWindow must be between 1 min and 30 days.")]
    public TimeSpan IdempotencyKeyWindow { get; set; } = TimeSpan.FromHours(24);

    /// <summary>A reservation whose outcome has not arrived after this (past any approval expiry) is released.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "7.00:00:00", ErrorMessage = "Policy:ReservationTimeout must be between 1 s and 7 days.")]
    public TimeSpan ReservationTimeout { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How often expired reservations are released and old rate windows removed.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00", ErrorMessage = "Policy:SweepInterval must be between 100 ms and 1 h.")]
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How often outcome copies still owed (a duplicate's, a replay's) are looked for when no notification
    /// came: settling an outcome notifies at once, so this only bounds the wait after a lost notification.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00", ErrorMessage = "Policy:OutcomeCopyInterval must be between 100 ms and 10 min.")]
    public TimeSpan OutcomeCopyInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A candidate policy decided beside the live one on every new proposal and never enforced (shadow mode);
    /// hot-reloaded like <see cref="File"/>. Empty: no shadow.
    /// </summary>
    public string ShadowFile { get; set; } = "";

    /// <summary>How this instance names itself in policy_version_periods (default: host name and process id).</summary>
    [MaxLength(200)]
    public string InstanceName { get; set; } = $"{Environment.MachineName}:{Environment.ProcessId}";

    /// <summary>How often a version still in force has its last-seen time moved on.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00", ErrorMessage = "Policy:VersionHeartbeat must be between 1 s and 1 h.")]
    public TimeSpan VersionHeartbeat { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Shadow disagreements waiting to be written (each a few hundred bytes); beyond this, they are dropped and counted (metric agentbus.policy.shadow.dropped).</summary>
    [Range(100, 1_000_000)]
    public int ShadowQueueCapacity { get; set; } = 20_000;
}
