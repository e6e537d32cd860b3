namespace AgentBus.Contracts;

/// <summary>Machine-readable reasons carried by <see cref="ActionDecided.ReasonCode"/>.</summary>
public static class ReasonCodes
{
    public const string Allowed = "allowed";

    public const string PayloadTooLarge = "payload_too_large";
    public const string InvalidUtf8 = "invalid_utf8";
    public const string InvalidJson = "invalid_json";
    public const string InvalidFieldType = "invalid_field_type";
    public const string MissingField = "missing_field";
    public const string UnknownField = "unknown_field";
    public const string InvalidField = "invalid_field";

    public const string IdentityMissing = "identity_missing";
    public const string IdentityMismatch = "identity_mismatch";

    public const string PolicyUnavailable = "policy_unavailable";
    public const string UnknownAgent = "unknown_agent";
    public const string UnknownTool = "unknown_tool";
    public const string NoGrant = "no_grant";
}
