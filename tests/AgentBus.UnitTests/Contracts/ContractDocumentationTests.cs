using System.Reflection;
using System.Text.RegularExpressions;
using AgentBus.Contracts;

namespace AgentBus.UnitTests.Contracts;

/// <summary>
/// contracts/README.md is what agents in other languages are built from, so it must name every
/// broker name and every reason code the code uses: adding one without documenting it fails here.
/// </summary>
public class ContractDocumentationTests
{
    static readonly string Readme = File.ReadAllText(Path.Combine(RepoRoot(), "contracts", "README.md"));

    public static TheoryData<string, string> WireNameConstants() => Constants(typeof(WireNames));

    public static TheoryData<string, string> ReasonCodeConstants() => Constants(typeof(ReasonCodes));

    [Theory]
    [MemberData(nameof(WireNameConstants))]
    public void Readme_names_every_wire_name(string constant, string value)
    {
        // The vhost's value is a prefix of every other name, so it only counts standing on its own.
        var documented = constant == nameof(WireNames.DefaultVirtualHost)
            ? Regex.IsMatch(Readme, $@"(?<![\w.-]){Regex.Escape(value)}(?![\w.-])")
            : Readme.Contains(value, StringComparison.Ordinal);

        Assert.True(documented, $"contracts/README.md does not mention WireNames.{constant} ('{value}').");
    }

    [Theory]
    [MemberData(nameof(ReasonCodeConstants))]
    public void Readme_lists_every_reason_code_on_a_line_of_its_own(string constant, string value)
    {
        var listed = Regex.IsMatch(Readme, $@"^\s*(\|\s*|[-*]\s+)`{Regex.Escape(value)}`", RegexOptions.Multiline);

        Assert.True(listed, $"contracts/README.md does not list ReasonCodes.{constant} ('{value}') as a table row or list item.");
    }

    [Fact]
    public void Every_schema_the_readme_links_exists()
    {
        var links = Regex.Matches(Readme, @"\]\((schemas/[^)]+\.json)\)").Select(m => m.Groups[1].Value).Distinct().ToList();

        Assert.NotEmpty(links);
        Assert.All(links, link => Assert.True(File.Exists(Path.Combine(RepoRoot(), "contracts", link)), $"contracts/{link} does not exist."));
    }

    static TheoryData<string, string> Constants(Type type)
    {
        var data = new TheoryData<string, string>();
        foreach (var field in type.GetFields(BindingFlags.Public | BindingFlags.Static))
            if (field is { IsLiteral: true, IsInitOnly: false } && field.FieldType == typeof(string))
                data.Add(field.Name, (string)field.GetRawConstantValue()!);
        return data;
    }

    static string RepoRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "AgentBus.sln")))
                return directory.FullName;
        throw new InvalidOperationException($"AgentBus.sln not found above {AppContext.BaseDirectory}.");
    }
}
