using AgentBus.Executor;
using AgentBus.ServiceDefaults;
using Microsoft.Extensions.Options;

try
{
    var builder = ServiceHost.CreateBuilder(args);
    var tool = builder.AddExecutorConfiguration(args);
    builder.AddServiceDefaults($"agentbus-executor-{tool}", defaultPort: 0);
    builder.AddExecutor();

    var app = builder.Build();
    app.MapServiceDefaults();
    await app.RunAsync();
    return 0;
}
catch (Exception ex) when (ex is InvalidOperationException or OptionsValidationException)
{
    // A configuration problem: one line that says what to fix, not a stack trace.
    await Console.Error.WriteLineAsync($"agentbus-executor: cannot start: {ex.Message}");
    return 2;
}
