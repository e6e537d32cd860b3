using AgentBus.Catalog;
using AgentBus.Catalog.Http;
using AgentBus.Catalog.Schemas;
using Microsoft.Extensions.Options;

namespace AgentBus.Executor.Tools;

/// <summary>
/// Runs a catalog operation over HTTP: the agent gave business arguments only, so the method, the
/// host and the path's shape come from the catalog; the arguments are checked against the
/// operation's schema again (whatever policy said), expanded into the URL template, the body and
/// header arguments, and the secret goes where the catalog says. One attempt per call.
/// </summary>
public sealed class CatalogHttpTool(HttpClient http, ToolSecret secret, CatalogStore catalog, IOptions<ToolOptions> options)
    : ITool, IOperationSettings
{
    public const string Kind = "catalog";
    public const string UnknownOperation = "unknown_operation";
    public const string InvalidArguments = "invalid_arguments";

    readonly ToolOptions _options = options.Value;
    volatile OperationSettings? _settings;

    sealed record OperationSettings(CatalogTool Tool, Dictionary<string, (ToolOptions, string)> ByOperation);

    public async Task<ToolOutcome> ExecuteAsync(ToolCall call, CancellationToken cancellationToken)
    {
        var tool = catalog.Current;
        if (call.Operation is null || !tool.Operations.TryGetValue(call.Operation, out var operation))
            return ToolOutcome.Refusal(UnknownOperation, call.Operation is null
                ? $"Tool '{tool.Name}' runs named operations; the command names none."
                : $"Tool '{tool.Name}' has no operation '{call.Operation}' in its catalog ({tool.Source}).");
        if (operation.Http is not { } binding || tool.Http is not { } server)
            return ToolOutcome.Refusal(UnknownOperation, $"Operation '{operation.FullName}' does not run over HTTP.");
        if (!ArgumentSchemas.Matches(operation.ArgumentSchema, call.Arguments))
            return ToolOutcome.Refusal(InvalidArguments,
                $"The arguments do not match the schema of '{operation.FullName}': {ArgumentSchemas.Describe(operation.ArgumentSchema, call.Arguments)}.");

        var (request, problem) = OperationRequest.Build(server, binding, call.Arguments);
        if (problem is not null)
            return ToolOutcome.Refusal(problem.Code, problem.Message);
        using (request)
        {
            request!.Headers.Remove(server.SecretHeader);
            request.Headers.TryAddWithoutValidation(server.SecretHeader, server.SecretPrefix + secret.Value);
            HttpExchange.AddTracking(request, call);
            return await HttpExchange.SendAsync(http, request, _options.Http.MaxResponseBytes,
                (response, body) => HttpExchange.Reference(response, body, binding.ExternalReference), cancellationToken);
        }
    }

    /// <summary>Built once per catalog version, not per call: every command asks.</summary>
    public (ToolOptions Options, string Key)? SettingsFor(string? operation)
    {
        var tool = catalog.Current;
        var settings = _settings;
        if (settings is null || !ReferenceEquals(settings.Tool, tool))
            _settings = settings = new(tool, tool.Operations.Values.ToDictionary(o => o.Name, Settings, StringComparer.Ordinal));
        return operation is not null && settings.ByOperation.TryGetValue(operation, out var found) ? found : null;
    }

    (ToolOptions, string) Settings(CatalogOperation operation)
    {
        var options = _options.ForOperation(operation.UnitCostUsd, operation.Idempotent, operation.ReadOnly, operation.Http?.Timeout, operation.Http?.Retries);
        var key = FormattableString.Invariant(
            $"{operation.Name}|{options.Resilience.AttemptTimeout.Ticks}|{options.Resilience.MaxRetries}|{options.Idempotent}|{options.ReadOnly}");
        return (options, key);
    }
}
