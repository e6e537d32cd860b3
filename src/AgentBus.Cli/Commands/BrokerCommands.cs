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

        var apply = new Command("apply", "Create or update the vhost, one user per role with least-privilege permissions, and the agent-facing queues. Idempotent.")
        {
            policy, management, adminUser, adminPassword, vhost, secrets,
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
            var provisioned = await new BrokerProvisioner(api, store, admin)
                .ApplyAsync(result.GetValue(vhost)!, snapshot.Agents.Keys.ToList(), snapshot.Tools.Keys.ToList(), ct);

            var table = new Table().AddColumns("user", "role", "password file");
            foreach (var user in provisioned)
                table.AddRow(Markup.Escape(user.User.Name), Markup.Escape(user.User.Role), Markup.Escape(user.PasswordFile));
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine($"Broker topology applied to vhost [bold]{Markup.Escape(result.GetValue(vhost)!)}[/].");
            return Cli.Ok;
        }));

        return new Command("broker", "RabbitMQ users, permissions and topology.") { apply };
    }
}
