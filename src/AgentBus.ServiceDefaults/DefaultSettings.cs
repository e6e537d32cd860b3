using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Memory;
using Microsoft.Extensions.Hosting;

namespace AgentBus.ServiceDefaults;

public static class DefaultSettings
{
    /// <summary>
    /// A host's defaults, below every other source (appsettings.json in the working directory,
    /// AGENTBUS-style environment variables such as RabbitMq__Username, command-line switches).
    /// Kept in code rather than in each host's appsettings.json so that several hosts can share one
    /// output folder and one process (the all-in-one host) without their files colliding.
    /// </summary>
    public static IHostApplicationBuilder AddDefaultSettings(this IHostApplicationBuilder builder, IEnumerable<KeyValuePair<string, string?>> defaults)
    {
        builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource { InitialData = defaults });
        return builder;
    }
}
