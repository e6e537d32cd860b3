using System.Security.Cryptography;
using AgentBus.Catalog;

namespace AgentBus.Policy.Engine;

/// <summary>
/// What decides whether a policy needs loading again: the policy file's bytes and every catalog file's
/// name and bytes. Cheaper than a parse, so a watcher can look every second or two.
/// </summary>
public static class PolicyFingerprint
{
    public static byte[] Of(byte[] policy, string? catalogDirectory)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(SHA256.HashData(policy));
        if (catalogDirectory is not null)
        {
            try
            {
                foreach (var file in CatalogLoader.FilesIn(catalogDirectory))
                {
                    hash.AppendData(System.Text.Encoding.UTF8.GetBytes(Path.GetFileName(file) + "\n"));
                    hash.AppendData(SHA256.HashData(File.ReadAllBytes(file)));
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Unreadable now: a different fingerprint, so the loader says what is wrong.
                hash.AppendData([0]);
            }
        }
        return hash.GetHashAndReset();
    }
}
