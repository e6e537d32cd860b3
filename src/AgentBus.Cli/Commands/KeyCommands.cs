using System.CommandLine;
using AgentBus.ServiceDefaults.Security;
using Spectre.Console;

namespace AgentBus.Cli.Commands;

/// <summary>The policy service's signing keys: it signs every ExecuteTool; executors trust the public halves.</summary>
static class KeyCommands
{
    public const string DefaultName = "policy-signing";

    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Folder for the key pair (created 0700 if missing)", Required = true };
        var name = new Option<string>("--name")
        {
            Description = $"File name stem: NAME{SigningKeys.PrivateKeySuffix} and NAME{SigningKeys.PublicKeySuffix} (default {DefaultName})",
            DefaultValueFactory = _ => DefaultName,
        };
        var force = new Option<bool>("--force") { Description = "Replace an existing key pair of that name (executors must then trust the new public key)" };

        var generate = new Command("generate",
            "Create an ECDSA P-256 key pair: the private key for the policy service (Policy:Signing:PrivateKeyFile), " +
            "the public key for executors (Executor:PolicyKeys; a folder of *.pub.pem trusts several while keys rotate).")
        {
            output, name, force,
        };
        generate.SetAction(result => Cli.Run(() =>
        {
            var written = Generate(result.GetValue(output)!, result.GetValue(name)!, result.GetValue(force));
            AnsiConsole.MarkupLine($"Key [bold]{Markup.Escape(written.KeyId)}[/]");
            AnsiConsole.MarkupLine($"  private (policy service only): {Markup.Escape(written.PrivateKeyFile)}");
            AnsiConsole.MarkupLine($"  public (executors):            {Markup.Escape(written.PublicKeyFile)}");
            return Task.FromResult(Cli.Ok);
        }));

        return new Command("keys", "Signing keys for execution authorizations.") { generate };
    }

    public sealed record GeneratedKey(string KeyId, string PrivateKeyFile, string PublicKeyFile);

    public static GeneratedKey Generate(string folder, string name, bool force)
    {
        if (string.IsNullOrWhiteSpace(name) || name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name.Contains('/'))
            throw new UsageException($"--name '{name}' is not a plain file name.");
        var privateFile = Path.GetFullPath(Path.Combine(folder, name + SigningKeys.PrivateKeySuffix));
        var publicFile = Path.GetFullPath(Path.Combine(folder, name + SigningKeys.PublicKeySuffix));
        if (!force && (File.Exists(privateFile) || File.Exists(publicFile)))
            throw new UsageException($"A key pair named '{name}' already exists in {Path.GetFullPath(folder)}; " +
                                     "keep it, choose another --name, or pass --force to replace it.");

        Directory.CreateDirectory(folder);
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        using var key = SigningKeys.Generate();
        Write(privateFile, SigningKeys.PrivatePem(key), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Write(publicFile, SigningKeys.PublicPem(key),
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        return new GeneratedKey(SigningKeys.KeyIdOf(key), privateFile, publicFile);
    }

    static void Write(string path, string pem, UnixFileMode mode)
    {
        var temporary = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = mode;
        using (var writer = new StreamWriter(temporary, System.Text.Encoding.ASCII, options))
            writer.Write(pem);
        File.Move(temporary, path, overwrite: true);
    }
}
