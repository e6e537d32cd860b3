using System.Text.Json;
using AgentBus.Contracts;
using FluentValidation;

namespace AgentBus.Policy.Engine;

/// <summary>The envelope rules every proposal must meet before any policy rule looks at it.</summary>
public sealed class ProposalValidator : AbstractValidator<ActionProposed>
{
    public const int MaxRunIdLength = RollbackRuns.MaxRunIdLength;
    public const int MaxIdempotencyKeyLength = 200;
    public const int MaxIntentLength = 2000;

    public ProposalValidator()
    {
        ClassLevelCascadeMode = CascadeMode.Stop;
        RuleLevelCascadeMode = CascadeMode.Stop;

        RuleFor(p => p.ActionId).NotEmpty().WithName("actionId").WithErrorCode(ReasonCodes.MissingField)
            .Must(id => Guid.TryParseExact(id, "D", out _)).WithErrorCode(ReasonCodes.InvalidField)
            .WithMessage("'actionId' must be a UUID such as 0193e3c2-6f1a-7c3b-9d4e-2a1b3c4d5e6f.");
        RuleFor(p => p.AgentId).NotEmpty().WithName("agentId").WithErrorCode(ReasonCodes.MissingField)
            .Matches(Names.Pattern).WithErrorCode(ReasonCodes.InvalidField).WithMessage(Names.Rule("agentId"));
        RuleFor(p => p.RunId).NotEmpty().WithName("runId").WithErrorCode(ReasonCodes.MissingField)
            .MaximumLength(MaxRunIdLength).WithErrorCode(ReasonCodes.InvalidField)
            .Matches(@"^[A-Za-z0-9][A-Za-z0-9._:-]*\z").WithErrorCode(ReasonCodes.InvalidField)
            .WithMessage($"'runId' must be 1-{MaxRunIdLength} letters, digits, '.', '_', ':' or '-', starting with a letter or digit.");
        RuleFor(p => p.Tool).NotEmpty().WithName("tool").WithErrorCode(ReasonCodes.MissingField)
            .Matches(Names.Pattern).WithErrorCode(ReasonCodes.InvalidField).WithMessage(Names.Rule("tool"));
        RuleFor(p => p.Operation).Matches(CatalogLoader.OperationNamePattern).WithName("operation").WithErrorCode(ReasonCodes.InvalidField)
            .WithMessage("'operation' must be 1-64 lowercase letters, digits, '_' or '-', starting with a letter or digit (the part after the dot of payments.refund).")
            .When(p => p.Operation is not null);
        RuleFor(p => p.Arguments.ValueKind).NotEqual(JsonValueKind.Undefined).WithName("arguments")
            .WithErrorCode(ReasonCodes.MissingField).WithMessage("'arguments' is required.")
            .Equal(JsonValueKind.Object).WithErrorCode(ReasonCodes.InvalidFieldType).WithMessage("'arguments' must be a JSON object.");
        // Arguments are hashed in RFC 8785 canonical form, whose numbers are IEEE 754 doubles: 1e999 has none.
        RuleFor(p => p.Arguments).Must(NumbersAreFinite).WithName("arguments").WithErrorCode(ReasonCodes.InvalidField)
            .WithMessage("'arguments' holds a number beyond the range of a 64-bit floating-point number.")
            .When(p => p.Arguments.ValueKind == JsonValueKind.Object);
        // The key travels as the HTTP Idempotency-Key header and into PostgreSQL text: no control characters (CR, LF, NUL).
        RuleFor(p => p.IdempotencyKey).MaximumLength(MaxIdempotencyKeyLength).WithName("idempotencyKey")
            .WithErrorCode(ReasonCodes.InvalidField)
            .Must(key => key is null || !key.Any(char.IsControl)).WithErrorCode(ReasonCodes.InvalidField)
            .WithMessage("'idempotencyKey' must not contain control characters.");
        // Free text, newlines welcome; NUL is not text and PostgreSQL cannot store it.
        RuleFor(p => p.Intent).MaximumLength(MaxIntentLength).WithName("intent").WithErrorCode(ReasonCodes.InvalidField)
            .Must(intent => intent is null || !intent.Contains('\0')).WithErrorCode(ReasonCodes.InvalidField)
            .WithMessage("'intent' must not contain NUL characters.");
        RuleFor(p => p.Compensates).Must(id => Guid.TryParseExact(id, "D", out _)).WithName("compensates").WithErrorCode(ReasonCodes.InvalidField)
            .WithMessage("'compensates' must be the UUID of the action it undoes.")
            .When(p => p.Compensates is not null);
    }

    // Loops, not LINQ: this runs on every proposal, and All() would box the enumerators.
    static bool NumbersAreFinite(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Number:
                return element.TryGetDouble(out var number) && double.IsFinite(number);
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                    if (!NumbersAreFinite(property.Value))
                        return false;
                return true;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                    if (!NumbersAreFinite(item))
                        return false;
                return true;
            default:
                return true;
        }
    }
}

/// <summary>Agent ids and tool names double as RabbitMQ user and queue names, hence the narrow alphabet.</summary>
public static class Names
{
    // \z, not $: in .NET, $ also matches before a final newline, and "noop\n" is no name.
    public const string Pattern = @"^[a-z0-9][a-z0-9._-]{0,63}\z";

    /// <summary>Service users are named agentbus-…; an agent with such an id could pose as one.</summary>
    public const string ReservedPrefix = "agentbus-";

    /// <summary>
    /// A queue Q's dead letters live in Q_error and Q_skipped, and broker rights are granted by
    /// name: an agent or tool named x_error would be granted the queue that holds x's dead letters.
    /// </summary>
    public static string? DeadLetterSuffix(string name) =>
        name.EndsWith("_error", StringComparison.Ordinal) ? "_error" : name.EndsWith("_skipped", StringComparison.Ordinal) ? "_skipped" : null;

    /// <summary>
    /// The claim table shows an executor's database login the rows of the tool after the last
    /// <see cref="BrokerUsers.ExecutorSegment"/> in its name (migration 0791): a tool named a-executor-b
    /// would make its executor's login pass for tool b's.
    /// </summary>
    public static bool NamesAnotherExecutorsLogin(string tool) => tool.Contains(BrokerUsers.ExecutorSegment, StringComparison.Ordinal);

    public static string Rule(string field) =>
        $"'{field}' must be 1-64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit.";
}
