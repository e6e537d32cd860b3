using System.Text.Json;
using AgentBus.Contracts;
using FluentValidation;

namespace AgentBus.Policy.Engine;

/// <summary>
/// An operator's finding about an outcome-unknown action, as `agentbus actions resolve` builds it and
/// as the policy service reads it back from an "action.resolve" <see cref="OperatorActionTaken"/>.
/// Both check it with <see cref="ResolveRequestValidator"/>, so the CLI refuses what the service would ignore.
/// </summary>
public sealed record ResolveRequest(string Operator, string ActionId, bool Succeeded, string Evidence, JsonElement? Result, string? ExternalReference)
{
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The result of an action resolved as succeeded when nobody recorded what the system of record returned.</summary>
    public static JsonElement NoRecordedResult => JsonSerializer.SerializeToElement(new { resolvedByOperator = true, note = "no result was recorded" });

    /// <summary>The request an operator action carries, or why it carries none (not a resolution, or details that do not read).</summary>
    public static ResolveRequest? From(OperatorActionTaken action, out string? problem)
    {
        problem = null;
        if (action.Action != OperatorActionNames.ResolveAction)
        {
            problem = $"not a resolution ({action.Action})";
            return null;
        }
        if (action.Details.ValueKind != JsonValueKind.Object)
        {
            problem = "'details' must be a JSON object";
            return null;
        }
        ActionResolution? details;
        try
        {
            details = action.Details.Deserialize<ActionResolution>(Json);
        }
        catch (JsonException ex)
        {
            problem = $"'details' is not an action resolution: {ex.Message}";
            return null;
        }
        if (details is null || !action.Details.TryGetProperty("succeeded", out var succeeded)
                            || succeeded.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        {
            problem = "'details.succeeded' must be true or false";
            return null;
        }
        if (details.ActionId != action.Target)
        {
            problem = "'details.actionId' differs from the target";
            return null;
        }
        return new(action.Operator ?? "", action.Target ?? "", details.Succeeded, action.Reason ?? "",
            details.Result is { ValueKind: not JsonValueKind.Null } result ? result : null, details.ExternalReference);
    }

    /// <summary>The details to publish (the inverse of <see cref="From"/>).</summary>
    public JsonElement Details() =>
        JsonSerializer.SerializeToElement(new ActionResolution(ActionId, Succeeded, Result, ExternalReference), Json);
}

/// <summary>What a resolution must look like: who, which action, why, and a result that is a JSON object.</summary>
public sealed class ResolveRequestValidator : AbstractValidator<ResolveRequest>
{
    public const int MaxOperatorLength = 128;
    public const int MaxActionIdLength = 200;
    public const int MaxEvidenceLength = 4000;
    public const int MaxExternalReferenceLength = 500;
    public const int MaxResultBytes = 64 * 1024;

    public ResolveRequestValidator()
    {
        ClassLevelCascadeMode = CascadeMode.Continue;
        RuleLevelCascadeMode = CascadeMode.Stop;

        RuleFor(r => r.Operator).NotEmpty().WithName("operator").WithErrorCode(ReasonCodes.MissingField)
            .WithMessage("'operator' is required: who resolved the action.")
            .MaximumLength(MaxOperatorLength).WithErrorCode(ReasonCodes.InvalidField)
            .Must(NoControlCharacters).WithErrorCode(ReasonCodes.InvalidField)
            .WithMessage("'operator' must not contain control characters.");
        RuleFor(r => r.ActionId).NotEmpty().WithName("actionId").WithErrorCode(ReasonCodes.MissingField)
            .MaximumLength(MaxActionIdLength).WithErrorCode(ReasonCodes.InvalidField)
            .Matches(@"^[A-Za-z0-9][A-Za-z0-9._:-]*\z").WithErrorCode(ReasonCodes.InvalidField)
            .WithMessage("'actionId' must be letters, digits, '.', '_', ':' or '-' (as `agentbus actions unknown` prints it).");
        RuleFor(r => r.Evidence).Must(e => !string.IsNullOrWhiteSpace(e)).WithName("evidence").WithErrorCode(ReasonCodes.MissingField)
            .WithMessage("'evidence' is required: what the system of record shows (a record id, a screenshot's name, a ticket).")
            .MaximumLength(MaxEvidenceLength).WithErrorCode(ReasonCodes.InvalidField)
            .Must(NoControlCharactersButLines).WithErrorCode(ReasonCodes.InvalidField)
            .WithMessage("'evidence' must not contain control characters other than line breaks and tabs.");
        RuleFor(r => r.ExternalReference!).MaximumLength(MaxExternalReferenceLength).WithName("externalReference").WithErrorCode(ReasonCodes.InvalidField)
            .Must(NoControlCharacters).WithErrorCode(ReasonCodes.InvalidField)
            .WithMessage("'externalReference' must not contain control characters.")
            .When(r => r.ExternalReference is not null);
        RuleFor(r => r.Result!.Value.ValueKind).Equal(JsonValueKind.Object).WithName("result").WithErrorCode(ReasonCodes.InvalidFieldType)
            .WithMessage("'result' must be a JSON object (for an HTTP operation: {\"status\": 200, \"body\": {...}}).")
            .When(r => r.Result is not null);
        RuleFor(r => r.Result!.Value).Must(r => r.GetRawText().Length <= MaxResultBytes).WithName("result").WithErrorCode(ReasonCodes.InvalidField)
            .WithMessage($"'result' must be at most {MaxResultBytes / 1024} KiB of JSON.")
            .When(r => r.Result is not null);
        RuleFor(r => r.Result).Null().WithName("result").WithErrorCode(ReasonCodes.InvalidField)
            .WithMessage("'result' is for a succeeded action only.")
            .When(r => !r.Succeeded);
    }

    static bool NoControlCharacters(string value) => !value.Any(char.IsControl);

    static bool NoControlCharactersButLines(string value) => !value.Any(c => char.IsControl(c) && c is not ('\n' or '\t'));
}
