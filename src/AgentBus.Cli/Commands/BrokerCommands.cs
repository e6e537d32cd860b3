using System.CommandLine;
using AgentBus.Operations.Broker;
using AgentBus.Policy.Engine;
using Spectre.Console;

namespace AgentBus.Cli.Commands;

static class BrokerCommands
{
    public static Command Create()
    {
        var policy = new Option<string>("--policy") { Description = "Policy file whose agents and tools get broker users", Required = true };
        var management = Cli.ManagementUrl();
        var adminUser = Cli.AdminUser();
        var adminPassword = Cli.AdminPassword();
        var vhost = Cli.VirtualHost();
        var secrets = Cli.SecretsDirectory();
        var broker = new BrokerAddressOptions();
        var deliveryLimit = new Option<int>("--delivery-limit")
        {
            Description = "Deliveries without an acknowledgement (a consumer that crashes on the message) before RabbitMQ moves it to its _error queue",
            DefaultValueFactory = _ => BrokerQueues.DefaultDeliveryLimit,
        };

        var apply = new Command("apply",
            "Create or update the vhost, one user per role with least-privilege permissions, and every exchange and quorum queue. " +
            "Classic queues of an older installation become quorum queues with their messages (stop their readers first). Idempotent.")
        {
            policy, management, adminUser, adminPassword, vhost, secrets, broker.Host, broker.Port, broker.Endpoints, deliveryLimit,
        };
        apply.SetAction((result, ct) => Cli.Run(async () =>
        {
            var loaded = PolicyLoader.LoadFile(result.GetValue(policy)!);
            if (loaded.Policy is not { } snapshot)
                throw new UsageException(string.Join(Environment.NewLine, loaded.Errors));

            var admin = Cli.Required(result, adminUser, "a RabbitMQ administrator");
            using var api = new RabbitMqManagementClient(new Uri(result.GetValue(management)!), admin,
                Cli.Required(result, adminPassword, "the administrator's password"));
            var store = new SecretStore(result.GetValue(secrets)!);
            var limit = result.GetValue(deliveryLimit);
            if (limit is < 1 or > 1000)
                throw new UsageException($"--delivery-limit {limit} must be between 1 and 1000.");
            var options = new BrokerApplyOptions(limit, broker.Address(result),
                line => AnsiConsole.MarkupLine($"Converted [bold]{Markup.Escape(line)}[/]"));
            var applied = await new BrokerProvisioner(api, store, admin, options)
                .ApplyAsync(result.GetValue(vhost)!, snapshot.Agents.Keys.ToList(), snapshot.Tools.Keys.ToList(), ct);

            var table = new Table().AddColumns("user", "role", "password file");
            foreach (var user in applied.Users)
                table.AddRow(Markup.Escape(user.User.Name), Markup.Escape(user.User.Role), Markup.Escape(user.PasswordFile));
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine($"Broker topology applied to vhost [bold]{Markup.Escape(result.GetValue(vhost)!)}[/].");
            return Cli.Ok;
        }));

        return new Command("broker", "RabbitMQ users, permissions and topology.") { apply };
    }
}
