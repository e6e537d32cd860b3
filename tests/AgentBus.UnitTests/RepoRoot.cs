namespace AgentBus.UnitTests;

static class RepoRoot
{
    public static string Path { get; } = Find();

    static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "AgentBus.sln")))
                return dir.FullName;
        throw new InvalidOperationException("AgentBus.sln not found above " + AppContext.BaseDirectory);
    }
}
