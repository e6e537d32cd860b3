namespace AgentBus.Contracts;

/// <summary>Why the policy service refused its policy file (<see cref="PolicyFileRefused.ReasonCode"/>); audit only, never sent to agents.</summary>
public static class PolicyRefusalCodes
{
    /// <summary>The file does not load: YAML, schema or reference errors.</summary>
    public const string PolicyInvalid = "policy_invalid";

    /// <summary>The file is gone (deleted, or its folder is).</summary>
    public const string PolicyFileMissing = "policy_file_missing";

    /// <summary>The file is there but cannot be read (permissions, I/O error).</summary>
    public const string PolicyFileUnreadable = "policy_file_unreadable";
}
