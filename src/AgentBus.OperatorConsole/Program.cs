using AgentBus.OperatorConsole;
using AgentBus.ServiceDefaults;

var builder = ServiceHost.CreateBuilder(args);
builder.AddServiceDefaults("agentbus-console", defaultPort: 5106);
builder.AddOperatorConsole();

var app = builder.Build();
app.MapServiceDefaults();
app.MapOperatorConsole();
app.Run();
