using AgentBus.Executor;
using AgentBus.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
var tool = builder.AddExecutorConfiguration(args);
builder.AddServiceDefaults($"agentbus-executor-{tool}", defaultPort: 0);
builder.AddExecutor();

var app = builder.Build();
app.MapServiceDefaults();
app.Run();
