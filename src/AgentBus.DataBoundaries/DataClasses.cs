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
