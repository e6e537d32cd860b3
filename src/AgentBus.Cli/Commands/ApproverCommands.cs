using System.CommandLine;
using AgentBus.Approvals.Approvers;
using AgentBus.Approvals.Saga;
using Npgsql;
using Spectre.Console;

namespace AgentBus.Cli.Commands;

/// <summary>`agentbus approvers add|list|revoke`: the people who may approve, in the approvals database.</summary>
static class ApproverCommands
{
    public static Command Create()
    {
        var postgres = Cli.Postgres();

        var name = new Argument<string>("name") { Description = "The approver's name (a-z 0-9 . _ @ -), as shown in approvals and the audit" };
        var groups = new Option<string[]>("--group") { Description = "A group the approver belongs to (repeat for several)", Required = true, AllowMultipleArgumentsPerToken = false };
        var tokenFile = new Option<string?>("--token-file")
        {
            Description = "Write the token to this new file (mode 600) instead of printing it; if the file already holds this approver's " +
                          "working token, nothing changes (for setup scripts); any other existing file is refused",
        };
        var policy = new Option<string>("--policy")
        {
            Description = $"The policy file whose agent ids no approver may take (default: $AGENTBUS_POLICY_FILE or {DefaultPolicyFile})",
            DefaultValueFactory = _ => Cli.Env("AGENTBUS_POLICY_FILE") ?? DefaultPolicyFile,
        };
        var add = new Command("add", "Add an approver and print their bearer token once (only its SHA-256 is stored). A name that is an agent's id " +
                                     "in the policy (compared trimmed, in lower case, fullwidth letters folded) is refused.") { name, groups, tokenFile, policy, postgres };
        add.SetAction((result, ct) => Cli.Run(async () =>
        {
            RefuseAgentName(result.GetValue(name)!, result.GetValue(policy)!);
            var store = Store(result, postgres);
            var file = result.GetValue(tokenFile) is { Length: > 0 } path ? Path.GetFullPath(path) : null;
            if (file is not null && File.Exists(file))
            {
                var existing = await store.AuthenticateAsync((await File.ReadAllTextAsync(file, ct)).Trim(), ct);
                var wanted = await Guarded(() => Task.FromResult(ApproverStore.ValidName(result.GetValue(name)!)));
                if (existing?.Name != wanted)
                    throw new UsageException($"{file} exists but holds no working token of approver '{wanted}'; remove it to issue a new one (a token file is never overwritten).");
                AnsiConsole.MarkupLine($"Approver [bold]{Markup.Escape(existing.Name)}[/] is set up already ({Markup.Escape(string.Join(", ", existing.Groups))}); its token is in {Markup.Escape(file)}.");
                return Cli.Ok;
            }
            var (approver, token) = await Guarded(() => store.AddAsync(result.GetValue(name)!, result.GetValue(groups) ?? [], ct));
            AnsiConsole.MarkupLine($"Approver [bold]{Markup.Escape(approver.Name)}[/] added to {Markup.Escape(string.Join(", ", approver.Groups))}.");
            if (file is not null)
            {
                WriteSecret(file, token);
                AnsiConsole.MarkupLine($"Their token is in [bold]{Markup.Escape(file)}[/] (mode 600); `agentbus approvers revoke` ends it.");
                return Cli.Ok;
            }
            AnsiConsole.MarkupLine("Their token, shown this once (give it to them over a private channel; `agentbus approvers revoke` ends it):");
            Console.Out.WriteLine(token);
            return Cli.Ok;
        }));

        var list = new Command("list", "List approvers, their groups and whether they are revoked.") { postgres };
        list.SetAction((result, ct) => Cli.Run(async () =>
        {
            var approvers = await Store(result, postgres).ListAsync(ct);
            var table = new Table().AddColumns("name", "groups", "token issued (UTC)", "status");
            foreach (var a in approvers)
                table.AddRow(Markup.Escape(a.Name), Markup.Escape(string.Join(", ", a.Groups)), a.TokenIssuedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss"),
                    a.Active ? "active" : $"revoked {a.RevokedAt!.Value.UtcDateTime:yyyy-MM-dd HH:mm:ss}");
            AnsiConsole.Write(table);
            return Cli.Ok;
        }));

        var revokeName = new Argument<string>("name") { Description = "The approver to revoke" };
        var revoke = new Command("revoke", "Revoke an approver's token at once (API calls and inbox sessions). `add` issues a new one later.") { revokeName, postgres };
        revoke.SetAction((result, ct) => Cli.Run(async () =>
        {
            var who = result.GetValue(revokeName)!;
            if (!await Guarded(() => Store(result, postgres).RevokeAsync(who, ct)))
                throw new UsageException($"No active approver named '{who}'.");
            AnsiConsole.MarkupLine($"Approver [bold]{Markup.Escape(who)}[/] revoked.");
            return Cli.Ok;
        }));

        return new Command("approvers", "People who may approve actions, and their bearer tokens.") { add, list, revoke };
    }

    /// <summary>Secrets are read by agents and scripts in any language: plain UTF-8, no byte-order mark.</summary>
    static readonly System.Text.UTF8Encoding SecretEncoding = new(encoderShouldEmitUTF8Identifier: false);

    public const string DefaultPolicyFile = "ops/policies/policy.yaml";

    /// <summary>
    /// Separation of duties must be able to tell a person from an agent: an approver never takes an
    /// agent's id. Without a readable policy file there is no way to check, so nothing is added.
    /// </summary>
    static void RefuseAgentName(string name, string policyFile)
    {
        if (!File.Exists(policyFile))
            throw new UsageException($"Cannot check '{name}' against the agents: policy file {Path.GetFullPath(policyFile)} does not exist; pass --policy FILE.");
        IReadOnlySet<string> agents;
        try
        {
            agents = AgentNames.Read(policyFile);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or YamlDotNet.Core.YamlException)
        {
            throw new UsageException($"Cannot check '{name}' against the agents of {policyFile}: {ex.Message}");
        }
        var normalized = ApprovalRules.Normalize(name);
        if (agents.Contains(normalized))
            throw new UsageException($"'{normalized}' is the id of an agent in {policyFile}; an approver may not have an agent's name " +
                                     "(an agent could then approve its own actions). Choose the person's own name.");
    }

    /// <summary>Readable by the owner only from the start: written to a new file created with mode 600, UTF-8 without a BOM.</summary>
    static void WriteSecret(string file, string token)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var stream = new FileStream(file, options);
        using var writer = new StreamWriter(stream, SecretEncoding);
        writer.WriteLine(token);
    }

    static ApproverStore Store(ParseResult result, Option<string> postgres) =>
        new(NpgsqlDataSource.Create(Cli.Required(result, postgres, "the AgentBus database")));

    static async Task<T> Guarded<T>(Func<Task<T>> body)
    {
        try
        {
            return await body();
        }
        catch (ApproverException ex)
        {
            throw new UsageException(ex.Message);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            throw new UsageException("The approvers table does not exist: run `agentbus db migrate` first.");
        }
    }
}
