using AgentBus.Approvals;
using AgentBus.ServiceDefaults;

var builder = ServiceHost.CreateBuilder(args);
builder.AddServiceDefaults("agentbus-approvals", defaultPort: 5104);
builder.AddApprovals();

var app = builder.Build();
app.MapServiceDefaults();
app.MapApprovals();
app.Run();
