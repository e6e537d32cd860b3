using System.Security.Cryptography;
using System.Text.Json;
using AgentBus.Contracts;
using AgentBus.ServiceDefaults.Json;

namespace AgentBus.ServiceDefaults.Security;

/// <summary>Why a command may not run, or null when it may.</summary>
public sealed record AuthorizationProblem(string ErrorCode, string Reason);

/// <summary>
/// Holds the policy service's public keys (several while keys rotate) and decides whether one
/// command may run here: signature by a trusted key, this executor's tool, the arguments the
/// signature covers, not expired. Every field is checked only after the signature is.
/// </summary>
public sealed class AuthorizationVerifier : IDisposable
{
    readonly Dictionary<string, ECDsa> _keys;

    public AuthorizationVerifier(IEnumerable<ECDsa> keys)
    {
        _keys = new Dictionary<string, ECDsa>(StringComparer.Ordinal);
        foreach (var key in keys)
            _keys.TryAdd(SigningKeys.KeyIdOf(key), key);
        if (_keys.Count == 0)
            throw new InvalidOperationException("An authorization verifier needs at least one public key.");
    }

    public IReadOnlyCollection<string> KeyIds => _keys.Keys;

    /// <summary>
    /// Loads one public key file, or every *.pub.pem in a folder (put old and new keys side by side
    /// to rotate). The error names the path and what is wrong with it.
    /// </summary>
    public static AuthorizationVerifier FromPath(string path)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new InvalidOperationException("No public key path was given.");
        string[] files;
        if (Directory.Exists(path))
        {
            files = Directory.GetFiles(path, "*" + SigningKeys.PublicKeySuffix).Order(StringComparer.Ordinal).ToArray();
            if (files.Length == 0)
                throw new InvalidOperationException($"The folder '{path}' holds no public key (*{SigningKeys.PublicKeySuffix}).");
        }
        else if (File.Exists(path))
            files = [path];
        else
            throw new InvalidOperationException($"The public key path '{path}' does not exist.");

        var keys = new List<ECDsa>();
        try
        {
            foreach (var file in files)
                keys.Add(SigningKeys.Load(file, requirePrivate: false));
        }
        catch
        {
            foreach (var key in keys)
                key.Dispose();
            throw;
        }
        return new AuthorizationVerifier(keys);
    }

    public AuthorizationProblem? Check(ExecuteTool command, string expectedTool, DateTimeOffset now)
    {
        var authorization = command.Authorization;
        if (authorization is null || string.IsNullOrEmpty(authorization.KeyId) || string.IsNullOrEmpty(authorization.Signature))
            return new(ExecutionErrorCodes.AuthorizationMissing, "The command carries no signed authorization.");
        if (!_keys.TryGetValue(authorization.KeyId, out var key))
            return new(ExecutionErrorCodes.AuthorizationUnknownKey,
                $"The authorization was signed with key '{Printable(authorization.KeyId)}', which this executor does not trust.");
        if (command.ActionId is null || command.RunId is null || command.AgentId is null || command.Tool is null || command.ArgumentsHash is null)
            return new(ExecutionErrorCodes.AuthorizationInvalid, "The command lacks a field the signature covers.");

        var signature = new byte[64];
        if (!Convert.TryFromBase64String(authorization.Signature, signature, out var length) || length != 64
            || !key.VerifyData(AuthorizationStatement.For(command, authorization.KeyId, authorization.ApprovalId, authorization.NotAfter),
                signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
            return new(ExecutionErrorCodes.AuthorizationInvalid, "The authorization's signature does not match the command.");

        if (!string.Equals(command.Tool, expectedTool, StringComparison.Ordinal))
            return new(ExecutionErrorCodes.WrongTool, $"This executor runs '{expectedTool}', not '{Printable(command.Tool)}'.");

        if (command.Arguments.ValueKind != JsonValueKind.Object || !HashMatches(command.Arguments, command.ArgumentsHash))
            return new(ExecutionErrorCodes.ArgumentsChanged, "The arguments are not the ones the policy service authorized.");

        if (now > authorization.NotAfter)
            return new(ExecutionErrorCodes.AuthorizationExpired,
                $"The authorization expired at {authorization.NotAfter:O} ({(now - authorization.NotAfter).TotalSeconds:0.#} s ago).");

        return null;
    }

    static bool HashMatches(JsonElement arguments, string expected)
    {
        string actual;
        try
        {
            actual = CanonicalJson.Hash(arguments);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidOperationException)
        {
            return false;
        }
        return CryptographicOperations.FixedTimeEquals(System.Text.Encoding.UTF8.GetBytes(actual), System.Text.Encoding.UTF8.GetBytes(expected));
    }

    static string Printable(string value) =>
        value.Length <= 64 && value.All(c => c is >= ' ' and <= '~') ? value : "(unprintable)";

    public void Dispose()
    {
        foreach (var key in _keys.Values)
            key.Dispose();
    }
}
