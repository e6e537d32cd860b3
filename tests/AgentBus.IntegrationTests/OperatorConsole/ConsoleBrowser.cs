using AgentBus.IntegrationTests.Infrastructure;
using Microsoft.Playwright;

namespace AgentBus.IntegrationTests.OperatorConsole;

/// <summary>
/// <see cref="SystemChromium"/>, headless, driven by Playwright, for the console's tests: a fresh context per person, and screenshots saved under
/// artifacts/screenshots/console (or $AGENTBUS_SCREENSHOTS_DIR/console) for people to look at.
/// </summary>
public sealed class ConsoleBrowser : IAsyncDisposable
{
    readonly IPlaywright _playwright;
    readonly IBrowser _browser;
    readonly Uri _console;

    ConsoleBrowser(IPlaywright playwright, IBrowser browser, Uri console)
    {
        _playwright = playwright;
        _browser = browser;
        _console = console;
    }

    public static async Task<ConsoleBrowser> LaunchAsync(Uri console)
    {
        SystemChromium.EnsureInstalled();
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = SystemChromium.Path,
            Headless = true,
            Args = SystemChromium.Args,
            Timeout = 60_000,
        });
        return new ConsoleBrowser(playwright, browser, console);
    }

    public string Url(string path) => new Uri(_console, path).ToString();

    /// <summary>Signs in through the form, from a protected page, and lands back on it.</summary>
    public async Task<IPage> SignInAsync(string token, string landing = "/agents")
    {
        var context = await _browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 900 } });
        context.SetDefaultTimeout(30_000);
        var page = await context.NewPageAsync();
        await page.GotoAsync(Url(landing));
        if (!page.Url.Contains("/signin", StringComparison.Ordinal))
            throw new InvalidOperationException($"{landing} did not ask for a sign-in: {page.Url}");
        await page.FillAsync("#token", token);
        await page.ClickAsync("#signin");
        if (new Uri(page.Url).AbsolutePath != landing)
            throw new InvalidOperationException($"Sign-in did not land on {landing}: {page.Url}: {await page.InnerTextAsync("main")}");
        return page;
    }

    public static string ScreenshotDirectory
    {
        get
        {
            var configured = Environment.GetEnvironmentVariable("AGENTBUS_SCREENSHOTS_DIR");
            var directory = configured is { Length: > 0 }
                ? Path.Combine(configured, "console")
                : Path.Combine(RepositoryRoot(), "artifacts", "screenshots", "console");
            Directory.CreateDirectory(directory);
            return directory;
        }
    }

    public static Task ShotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ScreenshotDirectory, name + ".png"), FullPage = true });

    static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "AgentBus.sln")))
                return directory.FullName;
        return Path.GetTempPath();
    }

    public async ValueTask DisposeAsync()
    {
        await _browser.CloseAsync();
        _playwright.Dispose();
    }
}
