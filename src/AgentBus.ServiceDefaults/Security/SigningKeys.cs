using System.Security.Cryptography;

namespace AgentBus.ServiceDefaults.Security;

/// <summary>
/// ECDSA P-256 keys as PEM files. A key's id is derived from its public half (the first 16 hex
/// digits of the SHA-256 of its SubjectPublicKeyInfo), so a signer and a verifier can never
/// disagree about which key an id names.
/// </summary>
public static class SigningKeys
{
    public const string PrivateKeySuffix = ".key.pem";
    public const string PublicKeySuffix = ".pub.pem";

    public static string KeyIdOf(ECDsa key) =>
        Convert.ToHexStringLower(SHA256.HashData(key.ExportSubjectPublicKeyInfo()))[..16];

    public static ECDsa Generate() => ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public static string PrivatePem(ECDsa key) => key.ExportPkcs8PrivateKeyPem();

    public static string PublicPem(ECDsa key) => key.ExportSubjectPublicKeyInfoPem();

    /// <summary>Reads a PEM key and checks it is P-256 (and private, when asked); the error names the file.</summary>
    public static ECDsa Load(string file, bool requirePrivate)
    {
        if (string.IsNullOrWhiteSpace(file))
            throw new InvalidOperationException("No key file was given.");
        if (!File.Exists(file))
            throw new InvalidOperationException($"The key file '{file}' does not exist.");

        var pem = File.ReadAllText(file);
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(pem);
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            key.Dispose();
            throw new InvalidOperationException($"The key file '{file}' holds no readable EC key in PEM form: {ex.Message}", ex);
        }

        var parameters = key.ExportParameters(includePrivateParameters: false);
        if (key.KeySize != 256 || !IsP256(parameters.Curve))
        {
            key.Dispose();
            throw new InvalidOperationException($"The key in '{file}' is not on curve P-256 (nistP256); AgentBus signs with ECDSA P-256 only.");
        }

        if (requirePrivate)
        {
            try
            {
                key.ExportParameters(includePrivateParameters: true);
            }
            catch (CryptographicException)
            {
                key.Dispose();
                throw new InvalidOperationException($"'{file}' holds a public key; the policy service needs the private key.");
            }
        }
        return key;
    }

    static bool IsP256(ECCurve curve) =>
        curve.IsNamed && (curve.Oid.Value == ECCurve.NamedCurves.nistP256.Oid.Value
                          || string.Equals(curve.Oid.FriendlyName, "nistP256", StringComparison.OrdinalIgnoreCase)
                          || string.Equals(curve.Oid.FriendlyName, "ECDSA_P256", StringComparison.OrdinalIgnoreCase));
}
