using AgentBus.Approvals;

namespace AgentBus.OperatorConsole;

/// <summary>The console's settings (section "Console").</summary>
public sealed class ConsoleOptions
{
    public const string Section = "Console";

    /// <summary>The policy in force: the Controls page and the agents' limits read it; re-read when it changes.</summary>
    public string? PolicyFile { get; set; }

    /// <summary>The pilot-to-autopilot targets (ops/gates.yaml); built-in defaults when unset.</summary>
    public string? GatesFile { get; set; }

    /// <summary>Where the operator broker user's password is (rabbitmq/agentbus-operator), for the kill switch's audit event and dead letters.</summary>
    public string? SecretsDirectory { get; set; }

    /// <summary>RabbitMQ's management API, for listing dead-letter queues.</summary>
    public string ManagementUrl { get; set; } = "http://127.0.0.1:15672";

    /// <summary>Which approver groups hold which console role. A person may hold several.</summary>
    public ConsoleRoleGroups Roles { get; set; } = new();

    /// <summary>Session cookies only over HTTPS; off only for plain HTTP on loopback.</summary>
    public bool SecureCookies { get; set; } = true;

    /// <summary>How often the audit chain is verified in the background (the Audit page shows the last result).</summary>
    public TimeSpan VerifyInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How often the gates and costs are recomputed while nobody looks. One computation reads a month of the
    /// audit (about 10 s of CPU with 100,000 actions on two cores), so it runs rarely in the background...
    /// </summary>
    public TimeSpan GatesRefresh { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>...and when someone opens the page and the last result is older than this (never more than once per this long).</summary>
    public TimeSpan GatesMaxAge { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How long a rollback request follows each compensation (approval included) before it answers; a repeat goes on.</summary>
    public TimeSpan RollbackWait { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>The rollback identity to propose compensations as, when the policy has several (else its only one).</summary>
    public string? RollbackIdentity { get; set; }

    /// <summary>Where approvers decide, for the links a waiting rollback gives (optional).</summary>
    public string? ApprovalsUrl { get; set; }

    /// <summary>Anchors (heads copied out of the database, `agentbus audit anchor --out FILE`) the background verification also checks.</summary>
    public string? AnchorFile { get; set; }

    /// <summary>At most this many dead letters are read per queue to group them on the Dead letters page.</summary>
    public int DeadLetterScanLimit { get; set; } = 1000;

    /// <summary>Sign-in attempts allowed per client address and minute; more are answered 429, so tokens cannot be guessed at speed.</summary>
    public int SignInAttemptsPerMinute { get; set; } = 20;

    /// <summary>OIDC sign-in, as the approvals service's (a JWT pasted at sign-in, or sent as a bearer token).</summary>
    public OidcOptions Oidc { get; set; } = new();

    internal static IEnumerable<string> Problems(ConsoleOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.PolicyFile))
            yield return "Console:PolicyFile is required: the policy in force, whose agents and grants the console shows.";
        if (string.IsNullOrWhiteSpace(options.SecretsDirectory))
            yield return "Console:SecretsDirectory is required: the folder holding rabbitmq/agentbus-operator, the operator broker user's password.";
        if (!Uri.TryCreate(options.ManagementUrl, UriKind.Absolute, out _))
            yield return $"Console:ManagementUrl '{options.ManagementUrl}' is not an absolute URL.";
        if (options.VerifyInterval < TimeSpan.FromSeconds(10))
            yield return "Console:VerifyInterval must be at least 10 seconds: each verification reads the whole audit log.";
        if (options.RollbackWait <= TimeSpan.Zero || options.RollbackWait > TimeSpan.FromMinutes(2))
            yield return "Console:RollbackWait must be more than 0 and at most 2 minutes: a browser waits for the answer.";
        if (options.ApprovalsUrl is { Length: > 0 } approvals && !Uri.TryCreate(approvals, UriKind.Absolute, out _))
            yield return $"Console:ApprovalsUrl '{approvals}' is not an absolute URL.";
        if (options.GatesRefresh < TimeSpan.FromSeconds(5) || options.GatesMaxAge < TimeSpan.FromSeconds(5))
            yield return "Console:GatesRefresh and Console:GatesMaxAge must be at least 5 seconds: each computation reads a month of the audit.";
        if (options.SignInAttemptsPerMinute is < 1 or > 100_000)
            yield return "Console:SignInAttemptsPerMinute must be between 1 and 100000.";
        if (options.DeadLetterScanLimit is < 1 or > 100_000)
            yield return "Console:DeadLetterScanLimit must be between 1 and 100000.";
        foreach (var problem in options.Roles.Problems())
            yield return problem;
        foreach (var problem in options.Oidc.Problems())
            yield return problem;
    }
}

public sealed class ConsoleRoleGroups
{
    public List<string> Viewer { get; set; } = ["console-viewers"];
    public List<string> Operator { get; set; } = ["console-operators"];
    public List<string> Auditor { get; set; } = ["console-auditors"];

    internal IEnumerable<string> Problems()
    {
        if (Viewer.Count + Operator.Count + Auditor.Count == 0)
            yield return "Console:Roles names no group at all: nobody could sign in.";
    }
}
