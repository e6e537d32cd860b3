using System.Net;
using System.Net.Sockets;
using AgentBus.Operations.Broker;

namespace AgentBus.Testbed;

/// <summary>Which services a run starts, how many of each, and how they log.</summary>
public sealed record PipelineOptions
{
    public int PolicyInstances { get; init; } = 1;

    /// <summary>Copies of the projections service (competing consumers; the audit chain's head row orders their appends).</summary>
    public int ProjectionsInstances { get; init; } = 1;

    /// <summary>Executor copies per tool.</summary>
    public int ExecutorCopies { get; init; } = 1;

    public bool Approvals { get; init; } = true;

    /// <summary>The sandbox system of record as its own process (for http tools), recording every call to a file.</summary>
    public bool Sandbox { get; init; }

    /// <summary>The MCP gateway as its own process, in front of the run's vhost and policy file (it holds no broker user of its own).</summary>
    public bool Gateway { get; init; }

    /// <summary>Logging:LogLevel:Default of the services ("Information" is what ops/run.sh runs with).</summary>
    public string LogLevel { get; init; } = "Information";

    /// <summary>
    /// Maximum Pool Size of each service's database connections. Npgsql's default (100 per process)
    /// lets five services open 500 connections to a server that allows 100 (max_connections): the
    /// budget is split instead, and a consumer waits for a pooled connection rather than failing.
    /// </summary>
    public int PolicyConnections { get; init; } = 16;

    public int ExecutorConnections { get; init; } = 8;

    public int ProjectionsConnections { get; init; } = 6;

    public int ApprovalsConnections { get; init; } = 4;

    /// <summary>Appended to every service's connection string (e.g. "Max Auto Prepare=0" to compare).</summary>
    public string ConnectionOptions { get; init; } = "";

    /// <summary>More environment for every service (e.g. Executor__ClaimLease for a fault run).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// The services of one run, each a real process on the run's scratch vhost and database: policy,
/// projections, one executor per tool (or several copies), the approvals service and, when a tool
/// calls it, the sandbox system of record.
/// </summary>
public sealed class Pipeline(Scratch scratch, PipelineOptions options, string runTag) : IAsyncDisposable
{
    readonly List<ServiceProcess> _services = [];

    public Scratch Scratch { get; } = scratch;
    public PipelineOptions Options { get; } = options;
    public IReadOnlyList<ServiceProcess> Services => _services;
    public List<ServiceProcess> Policy { get; } = [];
    public List<ServiceProcess> Executors { get; } = [];
    public List<ServiceProcess> Projections { get; } = [];
    public ServiceProcess? Approvals { get; private set; }
    public ServiceProcess? Sandbox { get; private set; }
    public ServiceProcess? Gateway { get; private set; }
    public Uri? SandboxUrl { get; private set; }
    public string SandboxRecordFile => Path.Combine(Scratch.WorkDirectory, "sandbox-calls.jsonl");

    /// <summary>Creates the service processes (nothing starts yet). The sandbox's port is fixed now, so tool files can name it.</summary>
    public Pipeline Build()
    {
        if (Options.Sandbox)
        {
            var port = FreePort();
            SandboxUrl = new Uri($"http://127.0.0.1:{port}");
            Sandbox = Add("sandbox", "AgentBus.SandboxApi", "agentbus-sandbox-api", [], new()
            {
                ["Sandbox__KeysDirectory"] = Scratch.ToolSecretsDirectory,
                ["Sandbox__RecordFile"] = SandboxRecordFile,
            }, readyPath: "/health", port: port);
        }
        if (Options.Approvals)
            Approvals = Add("approvals", "AgentBus.Approvals", "agentbus-approvals", [], Env(BrokerTopology.ApprovalsUser, Options.ApprovalsConnections, new()
            {
                ["Approvals__SecureCookies"] = "false",
            }));
        for (var i = 0; i < Options.ProjectionsInstances; i++)
            Projections.Add(Add(Options.ProjectionsInstances == 1 ? "projections" : $"projections-{i + 1}", "AgentBus.Projections", "agentbus-projections", [],
                Env(BrokerTopology.ProjectionsUser, Options.ProjectionsConnections, [])));
        foreach (var tool in Scratch.Spec.Tools)
            for (var copy = 0; copy < Options.ExecutorCopies; copy++)
                Executors.Add(Add(Options.ExecutorCopies == 1 ? $"executor-{tool.Name}" : $"executor-{tool.Name}-{copy + 1}",
                    "AgentBus.Executor", "agentbus-executor",
                    ["--tool", tool.Name, "--tools-directory", Scratch.ToolsDirectory, "--secrets-directory", Scratch.ToolSecretsDirectory],
                    Env(BrokerTopology.ExecutorUser(tool.Name), Options.ExecutorConnections, new()
                    {
                        ["Executor__PolicyKeys"] = Scratch.KeysDirectory,
                        ["Executor__InstanceName"] = $"{tool.Name}-{copy + 1}",
                    })));
        for (var i = 0; i < Options.PolicyInstances; i++)
            Policy.Add(Add(Options.PolicyInstances == 1 ? "policy" : $"policy-{i + 1}", "AgentBus.Policy", "agentbus-policy", [],
                Env(BrokerTopology.PolicyUser, Options.PolicyConnections, new()
                {
                    ["Policy__File"] = Scratch.PolicyFile,
                    ["Policy__Signing__PrivateKeyFile"] = Scratch.SigningKeyFile,
                })));
        if (Options.Gateway)
            Gateway = Add("mcp-gateway", "AgentBus.Mcp", "agentbus-mcp", [], GatewayEnv());
        return this;
    }

    Dictionary<string, string> Env(string brokerUser, int connections, Dictionary<string, string> extra)
    {
        var environment = Scratch.ServiceEnvironment(brokerUser);
        environment["Database__ConnectionString"] += $";Maximum Pool Size={connections}" + (Options.ConnectionOptions.Length > 0 ? ";" + Options.ConnectionOptions : "");
        environment["Logging__LogLevel__Default"] = Options.LogLevel;
        environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information";
        foreach (var (key, value) in extra)
            environment[key] = value;
        foreach (var (key, value) in Options.Environment)
            environment[key] = value;
        return environment;
    }

    /// <summary>The gateway's settings: no database and no broker user; it logs in as each agent that calls it.</summary>
    Dictionary<string, string> GatewayEnv()
    {
        var environment = new Dictionary<string, string>
        {
            ["Mcp__PolicyFile"] = Scratch.PolicyFile,
            ["Mcp__BrokerHost"] = Scratch.Servers.RabbitHost,
            ["Mcp__BrokerPort"] = Scratch.Servers.RabbitPort.ToString(),
            ["Mcp__BrokerEndpoints"] = Scratch.Servers.IsCluster ? Scratch.Servers.RabbitEndpoints : "",
            ["Mcp__BrokerVirtualHost"] = Scratch.VirtualHost,
            ["Logging__LogLevel__Default"] = Options.LogLevel,
            ["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information",
            ["DOTNET_NOLOGO"] = "1",
        };
        foreach (var (key, value) in Options.Environment)
            environment[key] = value;
        return environment;
    }

    ServiceProcess Add(string name, string project, string assembly, string[] arguments, Dictionary<string, string> environment,
        string readyPath = "/health/ready", int port = 0)
    {
        var service = new ServiceProcess(name, ServiceProcess.Dll(project, assembly), arguments, environment,
            Path.Combine(Scratch.LogsDirectory, name + ".log"), runTag, readyPath, port);
        _services.Add(service);
        return service;
    }

    /// <summary>Starts every service and waits until each answers ready.</summary>
    public async Task StartAsync(CancellationToken ct)
    {
        if (Sandbox is not null)
            await Sandbox.StartAsync(ct);
        await Task.WhenAll(_services.Where(s => s != Sandbox).Select(s => s.StartAsync(ct)));
    }

    public async Task StopAsync()
    {
        foreach (var service in Enumerable.Reverse(_services))
            await service.StopAsync(TimeSpan.FromSeconds(20));
    }

    static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Lines in the services' logs that say something broke unexpectedly (unhandled exceptions, crashes).</summary>
    public IReadOnlyList<(string Service, string Line)> AlarmingLogLines(int max = 20)
    {
        var found = new List<(string, string)>();
        foreach (var service in _services)
        {
            if (!File.Exists(service.LogFile))
                continue;
            foreach (var line in File.ReadLines(service.LogFile))
                if (line.Contains("Unhandled exception", StringComparison.OrdinalIgnoreCase) || line.Contains("crit:", StringComparison.Ordinal)
                    || line.Contains("Process terminated", StringComparison.Ordinal) || line.Contains("OutOfMemory", StringComparison.Ordinal))
                {
                    found.Add((service.Name, line));
                    if (found.Count >= max)
                        return found;
                }
        }
        return found;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var service in _services)
        {
            try
            {
                await service.StopAsync(TimeSpan.FromSeconds(15));
            }
            catch (InvalidOperationException)
            {
                // Never started.
            }
        }
    }
}
