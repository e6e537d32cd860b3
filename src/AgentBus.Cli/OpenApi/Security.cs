using AgentBus.Catalog;
using Microsoft.OpenApi;

namespace AgentBus.Cli.OpenApi;

/// <summary>
/// The tool's one secret, from the spec's security schemes: an API key in a header, or HTTP bearer
/// or basic in Authorization. Operations that ask for anything else are told so in their
/// untranslated list; no credential is invented for them.
/// </summary>
sealed class Security
{
    readonly OpenApiDocument _document;

    Security(OpenApiDocument document, string? scheme, CatalogDocument.SecretEntry? secret)
    {
        _document = document;
        Scheme = scheme;
        Secret = secret;
    }

    /// <summary>The scheme the secret stands for, as the spec names it.</summary>
    public string? Scheme { get; }

    public CatalogDocument.SecretEntry? Secret { get; }

    public static Security Choose(OpenApiDocument document, IEnumerable<OpenApiOperation> operations, List<string> notes)
    {
        var schemes = document.Components?.SecuritySchemes ?? new Dictionary<string, IOpenApiSecurityScheme>();
        if (schemes.Count == 0)
        {
            notes.Add("the spec declares no security scheme: http.secret is left out (the catalog's default is header Authorization, no prefix); set it for the API.");
            return new(document, null, null);
        }
        // The schemes the chosen operations ask for first, in their order; then any the spec declares.
        var asked = operations.SelectMany(o => Requirements(document, o)).SelectMany(r => r.Keys).Select(Id);
        foreach (var name in asked.Concat(schemes.Keys).Distinct(StringComparer.Ordinal))
        {
            if (!schemes.TryGetValue(name, out var scheme) || Translate(scheme) is not { } secret)
                continue;
            if (scheme.Type == SecuritySchemeType.Http && string.Equals(scheme.Scheme, "basic", StringComparison.OrdinalIgnoreCase))
                notes.Add($"security scheme '{name}' is HTTP basic: the tool's secret must be base64 of user:password.");
            var others = schemes.Keys.Where(k => k != name).ToList();
            if (others.Count > 0)
                notes.Add($"the secret is for security scheme '{name}'; the spec also declares {string.Join(", ", others.Select(o => $"'{o}' ({Describe(schemes[o])})"))}.");
            return new(document, name, secret);
        }
        notes.Add($"no security scheme of the spec can be translated ({string.Join(", ", schemes.Select(s => $"'{s.Key}' ({Describe(s.Value)})"))}); " +
                  "only an API key in a header and HTTP bearer or basic can: http.secret is left out.");
        return new(document, null, null);
    }

    static CatalogDocument.SecretEntry? Translate(IOpenApiSecurityScheme scheme) => scheme.Type switch
    {
        SecuritySchemeType.ApiKey when scheme.In == ParameterLocation.Header && !string.IsNullOrWhiteSpace(scheme.Name) =>
            new() { Header = scheme.Name!, Prefix = "" },
        SecuritySchemeType.Http when string.Equals(scheme.Scheme, "bearer", StringComparison.OrdinalIgnoreCase) =>
            new() { Header = "Authorization", Prefix = "Bearer " },
        SecuritySchemeType.Http when string.Equals(scheme.Scheme, "basic", StringComparison.OrdinalIgnoreCase) =>
            new() { Header = "Authorization", Prefix = "Basic " },
        _ => null,
    };

    /// <summary>Adds a note when the operation asks for a credential the tool's secret is not.</summary>
    public void Check(OpenApiOperation operation, List<string> notes)
    {
        var requirements = Requirements(_document, operation);
        // No requirement, or one that is empty (anonymous access), or one the secret meets alone.
        if (requirements.Count == 0 || requirements.Any(r => r.Count == 0 || r.Keys.All(k => Id(k) == Scheme)))
            return;
        var asked = string.Join(" or ", requirements.Select(r => string.Join(" and ", r.Keys.Select(k => $"'{Id(k)}' ({Describe(k)})"))));
        notes.Add(Scheme is null
            ? $"security: the spec asks for {asked}, which is not translated: no credential is sent"
            : $"security: the spec asks for {asked}; the tool sends only its secret for '{Scheme}'");
    }

    static IList<OpenApiSecurityRequirement> Requirements(OpenApiDocument document, OpenApiOperation operation) =>
        operation.Security ?? document.Security ?? [];

    static string Id(OpenApiSecuritySchemeReference reference) => reference.Reference.Id ?? "?";

    static string Describe(IOpenApiSecurityScheme scheme) => scheme.Type switch
    {
        SecuritySchemeType.ApiKey => $"API key in {scheme.In?.ToString().ToLowerInvariant() ?? "?"}",
        SecuritySchemeType.Http => $"HTTP {scheme.Scheme}",
        SecuritySchemeType.OAuth2 => "OAuth 2",
        SecuritySchemeType.OpenIdConnect => "OpenID Connect",
        SecuritySchemeType.MutualTLS => "mutual TLS",
        _ => "unknown",
    };
}
