using AgentBus.Policy;
using AgentBus.ServiceDefaults;

var builder = ServiceHost.CreateBuilder(args);
builder.AddServiceDefaults("agentbus-policy", defaultPort: 5101);
builder.AddPolicy();

var app = builder.Build();
app.MapServiceDefaults();
app.Run();
