using AgentBus.SandboxApi;

// No appsettings files to reload: without this the host watches every directory under wherever it was started.
var builder = WebApplication.CreateBuilder(["--hostBuilder:reloadConfigOnChange=false", .. args]);
builder.AddSandbox();

var app = builder.Build();
app.MapSandbox();
app.Run();

public partial class Program;
