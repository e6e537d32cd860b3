namespace AgentBus.IntegrationTests.Infrastructure;

/// <summary>
/// Debian's chromium, the only browser the browser tests use (Playwright never downloads one here;
/// ops/test.sh installs the package). The flags keep it from reaching for the network this machine does not have.
/// </summary>
public static class SystemChromium
{
    public const string Path = "/usr/bin/chromium";

    public static readonly string[] Args =
        ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

    public static void EnsureInstalled()
    {
        if (!File.Exists(Path))
            throw new InvalidOperationException($"{Path} is missing: run the tests through ops/test.sh, which installs Debian's chromium package.");
    }
}
