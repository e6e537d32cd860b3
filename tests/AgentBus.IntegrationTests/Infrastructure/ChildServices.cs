using AgentBus.Testbed;

namespace AgentBus.IntegrationTests.Infrastructure;

/// <summary>
/// Hosts as real child processes for the tests that must kill or restart them: the test bed's
/// <see cref="ServiceProcess"/>, configured through environment variables as a deployment would,
/// with one <see cref="Watchdog"/> for this test process, so a crashed test host leaves no service
/// consuming from a vhost that is about to vanish.
/// </summary>
public static class ChildServices
{
    static readonly Lazy<Watchdog> Guard = new(() => new Watchdog($"agentbus-tests-{Environment.ProcessId}"));
    static readonly Lazy<string> LogsDirectory = new(() => Directory.CreateTempSubdirectory("agentbus-test-services-").FullName);

    /// <summary>Not started yet: <see cref="ServiceProcess.StartAsync"/> waits until it is ready, <see cref="ServiceProcess.LaunchAsync"/> does not.</summary>
    public static ServiceProcess Create(string project, string assembly, IReadOnlyDictionary<string, string?> environment, params string[] arguments)
    {
        var settings = new Dictionary<string, string>
        {
            ["MASSTRANSIT_USAGE_TELEMETRY"] = "false",
            ["DOTNET_NOLOGO"] = "1",
            ["DOTNET_ENVIRONMENT"] = "Test",
            ["ASPNETCORE_ENVIRONMENT"] = "Test",
        };
        foreach (var (key, value) in environment)
        {
            if (value is null)
                settings.Remove(key);
            else
                settings[key] = value;
        }
        var log = Path.Combine(LogsDirectory.Value, $"{assembly}-{Guid.NewGuid():N}.log");
        return new ServiceProcess(assembly, ServiceProcess.Dll(project, assembly), arguments, settings, log, Guard.Value.RunTag);
    }

    /// <summary>Started and ready (its /health/ready answers 200), or disposed and the reason thrown.</summary>
    public static async Task<ServiceProcess> StartAsync(string project, string assembly, IReadOnlyDictionary<string, string?> environment,
        params string[] arguments)
    {
        var service = Create(project, assembly, environment, arguments);
        try
        {
            await service.StartAsync(CancellationToken.None, TimeSpan.FromSeconds(60));
        }
        catch
        {
            await service.DisposeAsync();
            throw;
        }
        return service;
    }
}
