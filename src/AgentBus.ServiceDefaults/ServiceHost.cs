using Microsoft.AspNetCore.Builder;

namespace AgentBus.ServiceDefaults;

public static class ServiceHost
{
    /// <summary>
    /// <see cref="WebApplication.CreateBuilder(string[])"/> without reloading configuration on change.
    /// No service reads an appsettings file (settings come from the environment, the command line and
    /// files named in them), yet reload-on-change watches the content root, the working directory,
    /// with every directory under it: one inotify watch per directory of wherever the service was
    /// started (the repository, for ops/run.sh), and a wake-up of every service for each file written
    /// there (the load harness starts services in the folder their logs go to, so every log line woke
    /// all of them: 4 % of an executor's CPU). A command line that sets
    /// <c>--hostBuilder:reloadConfigOnChange</c> itself still wins, as it comes later.
    /// </summary>
    public static WebApplicationBuilder CreateBuilder(string[] args) =>
        WebApplication.CreateBuilder(["--hostBuilder:reloadConfigOnChange=false", .. args]);
}
