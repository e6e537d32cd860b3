using AgentBus.SandboxApi;

var builder = WebApplication.CreateBuilder(args);
builder.AddSandbox();

var app = builder.Build();
app.MapSandbox();
app.Run();

public partial class Program;
