using AgentBus.Catalog;
using AgentBus.Catalog.Http;
using Microsoft.Extensions.Options;

namespace AgentBus.Executor.Tools;

/// <summary>
/// This executor's tool as the catalog describes it (TOOL.yaml in the catalog folder the policy
/// service reads too), reloaded when the file changes. A version that does not load is refused with
/// its errors and the last good one stays in force; with none at all the process does not start.
/// </summary>
public sealed class CatalogStore : BackgroundService
{
    static readonly TimeSpan ReloadInterval = TimeSpan.FromSeconds(2);

    readonly string _file;
    readonly Uri? _baseUrl;
    readonly ILogger<CatalogStore> _logger;
    volatile CatalogTool _current;
    DateTime _lastWrite;

    public CatalogStore(IOptions<ToolOptions> options, IOptions<ExecutorOptions> executor, ILogger<CatalogStore> logger)
    {
        _logger = logger;
        _file = FileFor(options.Value, executor.Value);
        _baseUrl = options.Value.BaseUrl is { } baseUrl && OperationUrlTemplate.TryParseBase(baseUrl, out var parsed, out _) ? parsed : null;
        _lastWrite = File.GetLastWriteTimeUtc(_file);
        var (tool, errors) = Load(_file, executor.Value.Tool, _baseUrl);
        _current = tool ?? throw new InvalidOperationException(string.Join(Environment.NewLine, errors));
        _logger.LogInformation("Catalog {File}: {Count} operations of {Tool}", _file, _current.Operations.Count, _current.Name);
    }

    public CatalogTool Current => _current;

    /// <summary>TOOL.yaml in the catalog folder; a relative folder is read from the tools folder, beside TOOL.json.</summary>
    public static string FileFor(ToolOptions options, ExecutorOptions executor)
    {
        var folder = Path.Combine(executor.ToolsDirectory, options.Catalog ?? "");
        return Path.GetFullPath(Path.Combine(folder, executor.Tool + ".yaml"));
    }

    /// <summary>The tool's file checked as the policy service checks it; a base URL from the executor's settings replaces the catalog's.</summary>
    public static (CatalogTool? Tool, IReadOnlyList<string> Errors) Load(string file, string tool, Uri? baseUrl)
    {
        string text;
        try
        {
            text = File.ReadAllText(file);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return (null, [$"{file}: cannot read the catalog file for tool '{tool}': {ex.Message}"]);
        }
        return CatalogLoader.Parse(text, file, tool, baseUrl);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(ReloadInterval);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                var lastWrite = File.GetLastWriteTimeUtc(_file);
                if (lastWrite == _lastWrite)
                    continue;
                _lastWrite = lastWrite;
                var (tool, errors) = Load(_file, _current.Name, _baseUrl);
                if (tool is null)
                {
                    foreach (var error in errors)
                        _logger.LogError("Catalog refused: {Error}", error);
                    _logger.LogError("The last good catalog of {Tool} stays in force until {File} is fixed", _current.Name, _file);
                    continue;
                }
                _current = tool;
                _logger.LogInformation("Catalog {File} reloaded: {Count} operations", _file, tool.Operations.Count);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                _logger.LogError("Reading the catalog file {File} failed ({Error}); the catalog in force is unchanged", _file, ex.Message);
            }
        }
    }
}
