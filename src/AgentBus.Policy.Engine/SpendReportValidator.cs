using AgentBus.Contracts;
using FluentValidation;

namespace AgentBus.Policy.Engine;

/// <summary>What a spend report must look like before it reaches the cost ledger.</summary>
public sealed class SpendReportValidator : AbstractValidator<SpendReported>
{
    public const decimal MaxAmountUsd = 1_000_000m;
    public const int MaxReportIdLength = 200;
    public const int MaxCategoryLength = 64;
    public const int MaxDescriptionLength = 2000;

    public SpendReportValidator()
    {
        ClassLevelCascadeMode = CascadeMode.Stop;
        RuleLevelCascadeMode = CascadeMode.Stop;

        RuleFor(r => r.ReportId).NotEmpty().WithName("reportId").WithErrorCode(ReasonCodes.MissingField)
            .MaximumLength(MaxReportIdLength).WithErrorCode(ReasonCodes.InvalidField)
            .Matches("^[A-Za-z0-9][A-Za-z0-9._:-]*$").WithErrorCode(ReasonCodes.InvalidField)
            .WithMessage($"'reportId' must be 1-{MaxReportIdLength} letters, digits, '.', '_', ':' or '-'.");
        RuleFor(r => r.AgentId).NotEmpty().WithName("agentId").WithErrorCode(ReasonCodes.MissingField)
            .Matches(Names.Pattern).WithErrorCode(ReasonCodes.InvalidField).WithMessage(Names.Rule("agentId"));
        RuleFor(r => r.RunId).NotEmpty().WithName("runId").WithErrorCode(ReasonCodes.MissingField)
            .MaximumLength(ProposalValidator.MaxRunIdLength).WithErrorCode(ReasonCodes.InvalidField)
            .Matches("^[A-Za-z0-9][A-Za-z0-9._:-]*$").WithErrorCode(ReasonCodes.InvalidField)
            .WithMessage($"'runId' must be 1-{ProposalValidator.MaxRunIdLength} letters, digits, '.', '_', ':' or '-', starting with a letter or digit.");
        RuleFor(r => r.AmountUsd).InclusiveBetween(0m, MaxAmountUsd).WithName("amountUsd").WithErrorCode(ReasonCodes.InvalidField)
            .Must(a => decimal.Round(a, 6) == a).WithErrorCode(ReasonCodes.InvalidField)
            .WithMessage("'amountUsd' may have at most 6 decimal places.");
        RuleFor(r => r.Category).NotEmpty().WithName("category").WithErrorCode(ReasonCodes.MissingField)
            .MaximumLength(MaxCategoryLength).WithErrorCode(ReasonCodes.InvalidField);
        RuleFor(r => r.Description).MaximumLength(MaxDescriptionLength).WithName("description").WithErrorCode(ReasonCodes.InvalidField);
    }
}
