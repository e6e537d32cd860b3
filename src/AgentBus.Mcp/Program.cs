using AgentBus.Mcp;
using AgentBus.ServiceDefaults;

var builder = ServiceHost.CreateBuilder(args);
builder.AddMcpGateway();

var app = builder.Build();
app.MapServiceDefaults();
app.MapMcpGateway();
app.Run();

public partial class Program;
