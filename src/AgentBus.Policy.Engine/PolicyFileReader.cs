using System.Security.Cryptography;
using AgentBus.Catalog;

namespace AgentBus.Policy.Engine;

/// <summary>What one look at a policy file found.</summary>
/// <param name="ReadError">The file could not be read (gone, unreadable); nothing else is set.</param>
/// <param name="Changed">The file or a catalog file differs from the last look: <paramref name="Policy"/> or <paramref name="Errors"/> say how it loaded.</param>
/// <param name="FileVersion">"sha256:…" of what was read, for naming a refused version.</param>
public sealed record PolicyFileRead(Exception? ReadError, bool Changed, PolicySnapshot? Policy, IReadOnlyList<string> Errors, string? FileVersion);

/// <summary>
/// Watches one policy file for the services that enforce or offer it (the policy service, the MCP
/// gateway): each look compares a fingerprint of the file's bytes and every catalog file's name and
/// bytes with the last one, and parses only when something changed, so a look every second or two
/// costs a hash. Not thread-safe: one caller looks at a time.
/// </summary>
public sealed class PolicyFileReader(string path)
{
    byte[]? _lastSeen;
    string? _catalogDirectory;

    public string Path => path;

    public PolicyFileRead Read()
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _lastSeen = null;
            return new PolicyFileRead(ex, false, null, [], null);
        }

        var seen = Fingerprint(bytes, _catalogDirectory);
        if (_lastSeen is not null && seen.AsSpan().SequenceEqual(_lastSeen))
            return new PolicyFileRead(null, false, null, [], null);

        var result = PolicyLoader.LoadFile(path);
        if (result.CatalogDirectory != _catalogDirectory)
        {
            // The file names a new catalog folder: from now on, its files are part of the version.
            _catalogDirectory = result.CatalogDirectory;
            seen = Fingerprint(bytes, _catalogDirectory);
        }
        _lastSeen = seen;
        return new PolicyFileRead(null, true, result.Policy, result.Errors, "sha256:" + Convert.ToHexStringLower(seen)[..16]);
    }

    /// <summary>The policy file's bytes and every catalog file's name and bytes: an edit to either is a new version to load.</summary>
    static byte[] Fingerprint(byte[] policy, string? catalogDirectory)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(SHA256.HashData(policy));
        if (catalogDirectory is not null)
        {
            try
            {
                foreach (var file in CatalogLoader.FilesIn(catalogDirectory))
                {
                    hash.AppendData(System.Text.Encoding.UTF8.GetBytes(System.IO.Path.GetFileName(file) + "\n"));
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
