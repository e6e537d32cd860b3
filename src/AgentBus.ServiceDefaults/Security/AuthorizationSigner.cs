using System.Security.Cryptography;
using AgentBus.Contracts;

namespace AgentBus.ServiceDefaults.Security;

/// <summary>Holds the policy service's private key and signs commands with it.</summary>
public sealed class AuthorizationSigner : IDisposable
{
    readonly ECDsa _key;

    public AuthorizationSigner(ECDsa key)
    {
        _key = key;
        KeyId = SigningKeys.KeyIdOf(key);
    }

    public string KeyId { get; }

    public static AuthorizationSigner FromFile(string privateKeyFile) => new(SigningKeys.Load(privateKeyFile, requirePrivate: true));

    /// <summary>Signs everything the command says (its own <see cref="ExecuteTool.Authorization"/> is ignored).</summary>
    public ToolAuthorization Sign(ExecuteTool command, string? approvalId, DateTimeOffset notAfter)
    {
        notAfter = AuthorizationStatement.ToWholeMilliseconds(notAfter);
        var signature = _key.SignData(AuthorizationStatement.For(command, KeyId, approvalId, notAfter),
            HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return new ToolAuthorization(KeyId, approvalId, notAfter, Convert.ToBase64String(signature));
    }

    public void Dispose() => _key.Dispose();
}
