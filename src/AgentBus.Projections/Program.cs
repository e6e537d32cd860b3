using AgentBus.Projections;
using AgentBus.ServiceDefaults;

var builder = ServiceHost.CreateBuilder(args);
builder.AddServiceDefaults("agentbus-projections", defaultPort: 5103);
builder.AddProjections();

var app = builder.Build();
app.MapServiceDefaults();
app.Run();
