using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace AgentBus.ServiceDefaults;

public static class OptionsValidation
{
    /// <summary>
    /// Binds a section and validates it when the host starts, so a bad setting stops the process
    /// with the offending key named instead of failing at the first message.
    /// </summary>
    public static OptionsBuilder<T> AddValidatedOptions<T>(
        this IServiceCollection services, string section, Func<T, IEnumerable<string>>? problems = null)
        where T : class
    {
        var builder = services.AddOptions<T>()
            .BindConfiguration(section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        if (problems is not null)
            services.AddSingleton<IValidateOptions<T>>(new DelegateValidation<T>(section, problems));
        return builder;
    }

    sealed class DelegateValidation<T>(string section, Func<T, IEnumerable<string>> problems) : IValidateOptions<T>
        where T : class
    {
        public ValidateOptionsResult Validate(string? name, T options)
        {
            var found = problems(options).ToList();
            return found.Count == 0
                ? ValidateOptionsResult.Success
                : ValidateOptionsResult.Fail(found.Select(p => p.StartsWith(section, StringComparison.Ordinal) ? p : $"{section}: {p}"));
        }
    }
}
