using Microsoft.OpenApi;
using Microsoft.OpenApi.Reader;

namespace AgentBus.Cli.OpenApi;

/// <summary>An OpenAPI document as Microsoft.OpenApi read it, with what the reader said about it.</summary>
sealed record OpenApiSpec(OpenApiDocument? Document, string Version, IReadOnlyList<string> Errors, IReadOnlyList<string> Warnings)
{
    public bool Succeeded => Document is not null && Errors.Count == 0;

    /// <summary>JSON or YAML, OpenAPI 3.0 or 3.1 (and 2.0, which the reader upgrades). External $refs are not followed.</summary>
    public static async Task<OpenApiSpec> LoadAsync(string path, CancellationToken ct)
    {
        await using var file = File.OpenRead(path);
        return await LoadAsync(file, FormatOf(path), ct);
    }

    public static async Task<OpenApiSpec> LoadAsync(Stream stream, string? format, CancellationToken ct)
    {
        var settings = new OpenApiReaderSettings
        {
            LoadExternalRefs = false,
            // The reader's own rule checks report style, not whether the document can be read; the
            // importer checks what it uses itself.
            RuleSet = ValidationRuleSet.GetEmptyRuleSet(),
        };
        settings.AddYamlReader();
        ReadResult result;
        try
        {
            result = await OpenApiModelFactory.LoadAsync(stream, format, settings, ct);
        }
        catch (Exception ex) when (ex is OpenApiException or OpenApiUnsupportedSpecVersionException or FormatException or NotSupportedException
                                       or System.Text.Json.JsonException or InvalidOperationException or ArgumentException)
        {
            return new(null, "", [ex.Message], []);
        }
        var diagnostic = result.Diagnostic;
        var errors = diagnostic?.Errors.Select(Describe).ToList() ?? [];
        if (result.Document is null && errors.Count == 0)
            errors.Add("the reader returned no document");
        return new(result.Document, VersionName(diagnostic?.SpecificationVersion), errors, diagnostic?.Warnings.Select(Describe).ToList() ?? []);
    }

    /// <summary>By the file's extension; for any other name the reader looks at the content.</summary>
    static string? FormatOf(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".yaml" or ".yml" => OpenApiConstants.Yaml,
        ".json" => OpenApiConstants.Json,
        _ => null,
    };

    static string Describe(OpenApiError error) => string.IsNullOrEmpty(error.Pointer) ? error.Message : $"{error.Pointer}: {error.Message}";

    static string VersionName(OpenApiSpecVersion? version) => version switch
    {
        OpenApiSpecVersion.OpenApi2_0 => "2.0",
        OpenApiSpecVersion.OpenApi3_0 => "3.0",
        OpenApiSpecVersion.OpenApi3_1 => "3.1",
        null => "",
        var other => other.ToString()!,
    };
}
