namespace AgentBus.DataBoundaries;

/// <summary>
/// The classes a finding can carry. <c>secret.*</c> are credentials, <c>pii.*</c> personal data.
/// What each one matches exactly is documented in docs/data-boundaries.md.
/// </summary>
public static class DataClasses
{
    public const string AwsAccessKey = "secret.aws_access_key";
    public const string ApiKey = "secret.api_key";
    public const string Jwt = "secret.jwt";
    public const string PrivateKey = "secret.private_key";
    public const string PasswordInUrl = "secret.password_in_url";
    public const string HighEntropy = "secret.high_entropy";
    public const string Email = "pii.email";
    public const string Phone = "pii.phone";
    public const string Card = "pii.card";
    public const string Iban = "pii.iban";
    public const string UsSsn = "pii.us_ssn";
    public const string UkNino = "pii.uk_nino";

    public static IReadOnlyList<string> All { get; } =
        [AwsAccessKey, ApiKey, Jwt, PrivateKey, PasswordInUrl, HighEntropy, Email, Phone, Card, Iban, UsSsn, UkNino];

    public static bool IsSecret(string dataClass) => dataClass.StartsWith("secret.", StringComparison.Ordinal);
}

/// <summary>How the value was found: <c>null</c> as written, or inside one of these encodings.</summary>
public static class DataEncodings
{
    /// <summary>Percent-decoding (<c>%XX</c>) of the string, once.</summary>
    public const string Url = "url";

    /// <summary>A base64 or base64url token of the string whose bytes are UTF-8 text, decoded once.</summary>
    public const string Base64 = "base64";

    /// <summary>Adjacent sibling values of one object or array, concatenated; the pointer names the container.</summary>
    public const string Split = "split";
}
