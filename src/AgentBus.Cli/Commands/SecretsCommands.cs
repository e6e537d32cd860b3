using System.CommandLine;
using AgentBus.Operations.Broker;
using AgentBus.Policy.Engine;
using Spectre.Console;

namespace AgentBus.Cli.Commands;

static class SecretsCommands
{
    public static Command Create()
    {
        var policy = new Option<string>("--policy") { Description = "Policy file whose tools need a secret", Required = true };
        var secrets = Cli.SecretsDirectory();
        var init = new Command("init",
            "Generate a secret for every tool in the policy that has none yet (<secrets>/tools/<tool>), for local systems of record. " +
            "In production, put each vendor-issued secret there instead; existing files are never changed.")
        {
            policy, secrets,
        };
        init.SetAction(result => Cli.Run(() =>
        {
            var loaded = PolicyLoader.LoadFile(result.GetValue(policy)!);
            if (loaded.Policy is not { } snapshot)
                throw new UsageException(string.Join(Environment.NewLine, loaded.Errors));
            var store = new SecretStore(result.GetValue(secrets)!);
            foreach (var tool in snapshot.Tools.Keys.Order(StringComparer.Ordinal))
            {
                var existed = File.Exists(store.PathFor("tools", tool));
                store.GetOrCreate("tools", tool);
                AnsiConsole.MarkupLine($"{Markup.Escape(tool)}: {(existed ? "kept" : "generated")} {Markup.Escape(store.PathFor("tools", tool))}");
            }
            return Task.FromResult(Cli.Ok);
        }));
        return new Command("secrets", "Tool secrets in the secret store.") { init };
    }
}
