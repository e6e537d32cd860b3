using System.ComponentModel.DataAnnotations;

namespace AgentBus.Approvals;

public sealed class ApprovalsOptions
{
    public const string Section = "Approvals";

    /// <summary>How long policy has to use a grant once it is granted (it re-checks limits and budget first).</summary>
    [Range(typeof(TimeSpan), "00:00:05", "1.00:00:00", ErrorMessage = "Approvals:GrantLifetime must be between 5 s and 1 day.")]
    public TimeSpan GrantLifetime { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>How often the sweeper looks for approvals to expire or escalate.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:10:00", ErrorMessage = "Approvals:SweepInterval must be between 100 ms and 10 min.")]
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>When the saga has not acted on a sweep after this long (message lost, service down), it is sent again.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00", ErrorMessage = "Approvals:SweepResendAfter must be between 1 s and 1 h.")]
    public TimeSpan SweepResendAfter { get; set; } = TimeSpan.FromMinutes(1);

    [Range(1, 10_000, ErrorMessage = "Approvals:SweepBatch must be between 1 and 10000.")]
    public int SweepBatch { get; set; } = 200;

    /// <summary>How long an approve or deny waits for the saga's answer before the caller gets 503.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:05:00", ErrorMessage = "Approvals:VoteTimeout must be between 1 s and 5 min.")]
    public TimeSpan VoteTimeout { get; set; } = TimeSpan.FromSeconds(20);

    [Range(1, 1000, ErrorMessage = "Approvals:ConcurrentMessageLimit must be between 1 and 1000.")]
    public int ConcurrentMessageLimit { get; set; } = 16;

    /// <summary>Steps of the run's story the inbox page shows with an approval (the API serves the whole story).</summary>
    [Range(1, 10_000, ErrorMessage = "Approvals:StoryLimit must be between 1 and 10000.")]
    public int StoryLimit { get; set; } = 200;

    /// <summary>Marks the inbox's session cookie Secure (send it over HTTPS only). Off only for plain-HTTP loopback use.</summary>
    public bool SecureCookies { get; set; } = true;

    /// <summary>
    /// The policy file, read for its agent ids only: no approver (token or OIDC) may sign in under an
    /// agent's name. Without it, only the per-approval rule holds (an approval's agent never votes on it).
    /// </summary>
    public string? PolicyFile { get; set; }

    public OidcOptions Oidc { get; set; } = new();

    internal static IEnumerable<string> Problems(ApprovalsOptions options)
    {
        if (!string.IsNullOrWhiteSpace(options.PolicyFile) && !File.Exists(options.PolicyFile))
            yield return $"Approvals:PolicyFile '{options.PolicyFile}' does not exist.";
        foreach (var problem in options.Oidc.Problems())
            yield return problem;
    }
}

/// <summary>
/// Optional: approvers from an OpenID Connect provider, as JWT bearer tokens. Off unless
/// <see cref="Authority"/> or <see cref="SigningKeyFile"/> is set.
/// </summary>
public sealed class OidcOptions
{
    /// <summary>The issuer's URL; its signing keys are discovered from /.well-known/openid-configuration (HTTPS).</summary>
    public string? Authority { get; set; }

    /// <summary>The expected "iss"; defaults to <see cref="Authority"/>.</summary>
    public string? Issuer { get; set; }

    /// <summary>The expected "aud".</summary>
    public string? Audience { get; set; }

    /// <summary>A PEM public key (EC or RSA) to verify tokens with instead of discovery: pinned keys, offline sites.</summary>
    public string? SigningKeyFile { get; set; }

    /// <summary>The claim holding the approver's name.</summary>
    public string NameClaim { get; set; } = "preferred_username";

    /// <summary>The claim holding the approver's groups (repeated, a JSON array, or space-separated).</summary>
    public string GroupClaim { get; set; } = "groups";

    public bool Enabled => !string.IsNullOrWhiteSpace(Authority) || !string.IsNullOrWhiteSpace(SigningKeyFile);

    public IEnumerable<string> Problems()
    {
        if (!Enabled)
            yield break;
        if (string.IsNullOrWhiteSpace(Audience))
            yield return "Approvals:Oidc:Audience is required when OIDC is on.";
        if (string.IsNullOrWhiteSpace(Authority) && string.IsNullOrWhiteSpace(Issuer))
            yield return "Approvals:Oidc:Issuer is required when Approvals:Oidc:SigningKeyFile is used without an Authority.";
        if (!string.IsNullOrWhiteSpace(SigningKeyFile) && !File.Exists(SigningKeyFile))
            yield return $"Approvals:Oidc:SigningKeyFile '{SigningKeyFile}' does not exist.";
        if (!string.IsNullOrWhiteSpace(Authority) && !Uri.TryCreate(Authority, UriKind.Absolute, out _))
            yield return $"Approvals:Oidc:Authority '{Authority}' is not an absolute URL.";
        if (string.IsNullOrWhiteSpace(NameClaim) || string.IsNullOrWhiteSpace(GroupClaim))
            yield return "Approvals:Oidc:NameClaim and Approvals:Oidc:GroupClaim must not be empty.";
    }
}
