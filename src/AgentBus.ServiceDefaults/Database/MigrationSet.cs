using System.Reflection;
using DbUp.Engine;

namespace AgentBus.ServiceDefaults.Database;

/// <summary>
/// The migrations one part of AgentBus owns: the SQL files under Database/Migrations of its project,
/// embedded in its assembly, each journaled by its file name. File numbers are unique across all
/// sets, so the union applies in one order (docs/architecture.md lists who owns which).
/// </summary>
public sealed class MigrationSet(string owner, Assembly assembly)
{
    const string Folder = ".Database.Migrations.";

    /// <summary>The cluster roles and schema rights every part relies on, owned by no service.</summary>
    public static MigrationSet Platform { get; } = new("platform", typeof(MigrationSet).Assembly);

    public string Owner { get; } = owner;

    public IReadOnlyList<SqlScript> Scripts() =>
        assembly.GetManifestResourceNames()
            .Where(name => name.Contains(Folder, StringComparison.Ordinal) && name.EndsWith(".sql", StringComparison.Ordinal))
            .Select(name =>
            {
                using var stream = assembly.GetManifestResourceStream(name)!;
                using var reader = new StreamReader(stream);
                return new SqlScript(name[(name.IndexOf(Folder, StringComparison.Ordinal) + Folder.Length)..], reader.ReadToEnd());
            })
            .OrderBy(script => script.Name, StringComparer.Ordinal)
            .ToList();

    public override string ToString() => Owner;
}
