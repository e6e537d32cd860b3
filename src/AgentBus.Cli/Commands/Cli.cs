using System.CommandLine;
using AgentBus.Contracts;
using AgentBus.Operations.Broker;
using System.Net.Sockets;
using Npgsql;
using Spectre.Console;

namespace AgentBus.Cli.Commands;

/// <summary>Options shared by several commands, and the one place operator-facing errors are printed.</summary>
static class Cli
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int BadInput = 2;

    /// <summary>The command ran and its verdict is negative: a broken audit chain, a failed gate.</summary>
    public const int CheckFailed = 3;

    /// <summary>Nothing failed, but the work is not done: something waits (an approval, an action still running); run it again later.</summary>
    public const int Incomplete = 4;

    static readonly AsyncLocal<IAnsiConsole?> CapturedOutput = new();

    static Cli()
    {
        // Piped into a file or another tool, Spectre assumes 80 columns and wraps every table.
        if (Console.IsOutputRedirected)
            AnsiConsole.Profile.Width = int.TryParse(Env("COLUMNS"), out var columns) && columns >= 80 ? columns : 200;
    }

    /// <summary>Where commands print; tests capture it per call with <see cref="CaptureOutput"/>.</summary>
    public static IAnsiConsole Out => CapturedOutput.Value ?? AnsiConsole.Console;

    public static IDisposable CaptureOutput(IAnsiConsole console)
    {
        CapturedOutput.Value = console;
        return new Restore(CapturedOutput);
    }

    static readonly AsyncLocal<IAnsiConsole?> CapturedError = new();

    static readonly Lazy<IAnsiConsole> StandardError = new(() =>
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        if (Console.IsErrorRedirected)
            console.Profile.Width = int.TryParse(Env("COLUMNS"), out var columns) && columns >= 80 ? columns : 200;
        return console;
    });

    /// <summary>Standard error, for commands whose standard output is data (tools import writes YAML there).</summary>
    public static IAnsiConsole Err => CapturedError.Value ?? StandardError.Value;

    public static IDisposable CaptureError(IAnsiConsole console)
    {
        CapturedError.Value = console;
        return new Restore(CapturedError);
    }

    sealed class Restore(AsyncLocal<IAnsiConsole?> captured) : IDisposable
    {
        public void Dispose() => captured.Value = null;
    }

    public static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;

    public static Option<string> Postgres() => new("--postgres")
    {
        Description = "Npgsql connection string (default: $AGENTBUS_POSTGRES)",
        DefaultValueFactory = _ => Env("AGENTBUS_POSTGRES") ?? "",
    };

    public static Option<string> ManagementUrl() => new("--management-url")
    {
        Description = "RabbitMQ management API (default: $AGENTBUS_RABBITMQ_MANAGEMENT_URL or http://127.0.0.1:15672)",
        DefaultValueFactory = _ => Env("AGENTBUS_RABBITMQ_MANAGEMENT_URL") ?? "http://127.0.0.1:15672",
    };

    public static Option<string> AdminUser() => new("--admin-user")
    {
        Description = "RabbitMQ administrator (default: $AGENTBUS_RABBITMQ_ADMIN_USER)",
        DefaultValueFactory = _ => Env("AGENTBUS_RABBITMQ_ADMIN_USER") ?? "",
    };

    public static Option<string> AdminPassword() => new("--admin-password")
    {
        Description = "Its password (default: $AGENTBUS_RABBITMQ_ADMIN_PASSWORD)",
        DefaultValueFactory = _ => Env("AGENTBUS_RABBITMQ_ADMIN_PASSWORD") ?? "",
    };

    public static Option<string> VirtualHost() => new("--vhost")
    {
        Description = "RabbitMQ virtual host (default: $AGENTBUS_RABBITMQ_VHOST or agentbus)",
        DefaultValueFactory = _ => Env("AGENTBUS_RABBITMQ_VHOST") ?? Contracts.WireNames.DefaultVirtualHost,
    };

    public static Option<string> SecretsDirectory() => new("--secrets-dir")
    {
        Description = "Where generated passwords and tool secrets live (default: $AGENTBUS_SECRETS_DIR or /var/lib/agentbus/secrets)",
        DefaultValueFactory = _ => Env("AGENTBUS_SECRETS_DIR") ?? "/var/lib/agentbus/secrets",
    };

    public static string Required(ParseResult result, Option<string> option, string what)
    {
        var value = result.GetValue(option);
        if (string.IsNullOrWhiteSpace(value))
            throw new UsageException($"{option.Name} is required: {what}.");
        return value;
    }

    /// <summary>Runs a command body; expected failures become one clear line and an exit code, not a stack trace.</summary>
    public static async Task<int> Run(Func<Task<int>> body)
    {
        // Piped into a file or CI log: do not wrap tables at 80 columns.
        if (Console.IsOutputRedirected && AnsiConsole.Profile.Width < 160)
            AnsiConsole.Profile.Width = 160;
        try
        {
            return await body();
        }
        catch (Exception ex) when (ex is UsageException or AgentBus.Audit.Gates.GateConfigException or AgentBus.Operations.Rollback.RollbackPlanException)
        {
            Error(ex.Message);
            return BadInput;
        }
        catch (PolicyRefusedException)
        {
            return Failed;
        }
        catch (Exception ex) when (ex is Operations.Broker.BrokerProvisioningException or NpgsqlException or HttpRequestException
                                       or SocketException or IOException or InvalidOperationException or TimeoutException
                                       or Operations.DeadLetters.DeadLetterException or RabbitMQ.Client.Exceptions.RabbitMQClientException
                                       or UnauthorizedAccessException or RabbitMQ.Client.Exceptions.BrokerUnreachableException
                                       or OperationCanceledException)
        {
            Error(ex.Message);
            return Failed;
        }
    }

    public static void Error(string message) => Out.MarkupLine($"[red]error:[/] {Markup.Escape(message)}");
}

sealed class UsageException(string message) : Exception(message);

/// <summary>
/// How a command reaches RabbitMQ over AMQP: --rabbitmq-host and --rabbitmq-port, or a cluster's
/// nodes in --rabbitmq-endpoints (default $AGENTBUS_RABBITMQ_ENDPOINTS, which ops/lib/cluster.sh
/// writes), of which the first that answers is used.
/// </summary>
sealed class BrokerAddressOptions
{
    public Option<string> Host { get; } = new("--rabbitmq-host")
    {
        Description = "RabbitMQ host (default: $AGENTBUS_RABBITMQ_HOST or 127.0.0.1)",
        DefaultValueFactory = _ => Cli.Env("AGENTBUS_RABBITMQ_HOST") ?? "127.0.0.1",
    };

    public Option<int> Port { get; } = new("--rabbitmq-port")
    {
        Description = "RabbitMQ AMQP port (default: $AGENTBUS_RABBITMQ_PORT or 5672)",
        DefaultValueFactory = _ => int.TryParse(Cli.Env("AGENTBUS_RABBITMQ_PORT"), out var port) ? port : 5672,
    };

    public Option<string?> Endpoints { get; } = new("--rabbitmq-endpoints")
    {
        Description = "A cluster's nodes, host:port,host:port: the first that answers is used, instead of --rabbitmq-host/--rabbitmq-port " +
                      "(default: $AGENTBUS_RABBITMQ_ENDPOINTS)",
        DefaultValueFactory = _ => Cli.Env("AGENTBUS_RABBITMQ_ENDPOINTS"),
    };

    public Option[] All => [Host, Port, Endpoints];

    public BrokerAddress Address(ParseResult result)
    {
        var port = result.GetValue(Port);
        if (port is < 1 or > 65535)
            throw new UsageException($"--rabbitmq-port {port} is not a port number.");
        var endpoints = result.GetValue(Endpoints);
        if (BrokerNodes.Problem("--rabbitmq-endpoints", endpoints, port) is { } problem)
            throw new UsageException(problem);
        return new BrokerAddress(result.GetValue(Host)!, port, endpoints);
    }
}
