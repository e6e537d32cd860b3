namespace AgentBus.IntegrationTests.Infrastructure;

/// <summary>
/// Policy files as an editor saves them: written beside and renamed into place. A running policy
/// service or gateway reads the file every moment or two; an in-place write can be read half done (an
/// empty file), which the service rightly refuses and audits as a version of its own.
/// </summary>
public static class PolicyFiles
{
    public static async Task WriteAsync(string path, string yaml)
    {
        var beside = $"{path}.{Guid.NewGuid():N}.tmp";
        await File.WriteAllTextAsync(beside, yaml);
        File.Move(beside, path, overwrite: true);
    }
}
