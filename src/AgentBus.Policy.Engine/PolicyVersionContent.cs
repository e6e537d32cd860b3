using System.Text;
using AgentBus.Catalog;

namespace AgentBus.Policy.Engine;

/// <summary>
/// Everything a policy version is made of: the policy file's text and, when it names a catalog, each
/// catalog file's name and text. Stored once per version (policy_versions), so that any version can be
/// shown, compared and loaded again exactly as it was in force.
/// </summary>
public sealed record PolicyVersionContent(string Policy, string? CatalogFolder, IReadOnlyDictionary<string, string> Catalog)
{
    /// <summary>
    /// Reads the files a loaded snapshot came from; null when they have changed since (the content would not be
    /// that version: the next load records the newer one).
    /// </summary>
    public static PolicyVersionContent? Capture(PolicySnapshot snapshot)
    {
        try
        {
            var text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(File.ReadAllBytes(snapshot.Source));
            var catalog = new SortedDictionary<string, string>(StringComparer.Ordinal);
            if (snapshot.CatalogDirectory is { } directory)
                foreach (var file in CatalogLoader.FilesIn(directory))
                    catalog[Path.GetFileName(file)] = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(File.ReadAllBytes(file));
            var content = new PolicyVersionContent(text, snapshot.CatalogDirectory is null ? null : FolderOf(text), catalog);
            return content.Load(snapshot.Source).Policy?.Version == snapshot.Version ? content : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or DecoderFallbackException)
        {
            return null;
        }
    }

    /// <summary>Compiles the version again, from a private copy of its catalog files; <paramref name="source"/> names it in errors.</summary>
    public PolicyLoadResult Load(string source)
    {
        if (Catalog.Count == 0 && CatalogFolder is null)
            return PolicyLoader.Parse(Policy, source);
        var directory = Directory.CreateTempSubdirectory("agentbus-policy-version-");
        try
        {
            foreach (var (name, text) in Catalog)
            {
                if (name != Path.GetFileName(name) || name is "." or ".." || name.Length == 0)
                    return new(null, [$"{source}: catalog file name '{name}' is not a plain file name."]);
                File.WriteAllText(Path.Combine(directory.FullName, name), text, new UTF8Encoding(false));
            }
            return PolicyLoader.Parse(Policy, source, directory.FullName);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    /// <summary>The policy file's `catalog:` value, for writing a version back where it came from.</summary>
    static string? FolderOf(string policyText) => PolicyLoader.CatalogFolderOf(policyText);
}
