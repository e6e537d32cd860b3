using System.ComponentModel.DataAnnotations;
using AgentBus.Contracts;

namespace AgentBus.ServiceDefaults.Messaging;

public sealed class RabbitMqOptions
{
    public const string Section = "RabbitMq";

    [Required(ErrorMessage = "RabbitMq:Host is required.")]
    public string Host { get; set; } = "127.0.0.1";

    [Range(1, 65535, ErrorMessage = "RabbitMq:Port must be between 1 and 65535.")]
    public int Port { get; set; } = 5672;

    /// <summary>
    /// Every node of a RabbitMQ cluster, "host:port,host:port"; when set, Host and Port are not used.
    /// The bus connects to one that answers and moves to another when that node dies.
    /// </summary>
    public string? Endpoints { get; set; }

    public IReadOnlyList<BrokerNode> Nodes() => BrokerNodes.ListOrSingle(Endpoints, Host, Port);

    [Required(ErrorMessage = "RabbitMq:VirtualHost is required.")]
    public string VirtualHost { get; set; } = WireNames.DefaultVirtualHost;

    [Required(ErrorMessage = "RabbitMq:Username is required.")]
    public string Username { get; set; } = "";

    /// <summary>Either this or <see cref="PasswordFile"/>; the file keeps the secret out of the environment.</summary>
    public string? Password { get; set; }

    public string? PasswordFile { get; set; }

    /// <summary>Bounded so a broker that refuses a publish surfaces as an error instead of an endless retry.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00", ErrorMessage = "RabbitMq:PublishTimeout must be between 1 s and 10 min.")]
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public string ResolvePassword()
    {
        if (!string.IsNullOrEmpty(Password))
            return Password;
        if (string.IsNullOrEmpty(PasswordFile))
            throw new InvalidOperationException($"{Section}:Password or {Section}:PasswordFile must be set.");
        return File.ReadAllText(PasswordFile).Trim();
    }

    internal static IEnumerable<string> Problems(RabbitMqOptions options)
    {
        if (string.IsNullOrEmpty(options.Password) && string.IsNullOrEmpty(options.PasswordFile))
            yield return $"{Section}:Password or {Section}:PasswordFile must be set.";
        if (BrokerNodes.Problem($"{Section}:Endpoints", options.Endpoints, options.Port) is { } endpoints)
            yield return endpoints;
        if (!string.IsNullOrEmpty(options.PasswordFile) && !File.Exists(options.PasswordFile))
            yield return $"{Section}:PasswordFile '{options.PasswordFile}' does not exist.";
    }
}
