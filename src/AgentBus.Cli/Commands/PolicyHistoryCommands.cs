using System.CommandLine;
using System.Text;
using AgentBus.Policy.Engine;
using AgentBus.Policy.Versions;
using Dapper;
using Npgsql;
using Spectre.Console;

namespace AgentBus.Cli.Commands;

/// <summary>`agentbus policy history|show|shadow`: the versions the policy service put in force, and how a shadow candidate disagreed.</summary>
static class PolicyHistoryCommands
{
    public static Command History()
    {
        var postgres = Cli.Postgres();
        var since = AuditCli.Since("90d");
        var json = AuditCli.AsJson();
        var command = new Command("history",
            "Every policy version the policy service put in force (or ran in shadow), newest first: when, on which instances, how many decisions it made.")
        {
            postgres, since, json,
        };
        command.SetAction((result, ct) => Cli.Run(async () =>
        {
            var now = DateTimeOffset.UtcNow;
            await using var dataSource = AuditCli.DataSource(result, postgres);
            var versions = await new PolicyVersionStore(dataSource).ListAsync(AuditCli.Time(result.GetValue(since), "--since", now) ?? now.AddDays(-90), ct);
            if (result.GetValue(json))
            {
                AuditCli.WriteJson(versions);
                return Cli.Ok;
            }
            if (versions.Count == 0)
            {
                Cli.Out.MarkupLine("No policy version recorded in that time.");
                return Cli.Ok;
            }
            var table = new Table().AddColumns("version", "in force from (UTC)", "until (last seen)", "shadow", "decisions", "instances", "source");
            foreach (var version in versions)
                table.AddRow(Markup.Escape(version.Version), When(version.LiveFrom), When(version.LiveUntil),
                    version.ShadowFrom is null ? "" : $"{When(version.ShadowFrom)} – {When(version.ShadowUntil)}",
                    version.Decisions.ToString(System.Globalization.CultureInfo.InvariantCulture), Markup.Escape(version.Instances),
                    Markup.Escape(version.Source));
            Cli.Out.Write(table);
            Cli.Out.MarkupLine("One version: agentbus policy show VERSION · what changed: agentbus policy diff VERSION VERSION");
            return Cli.Ok;
        }));
        return command;
    }

    public static Command Show()
    {
        var version = new Argument<string>("VERSION") { Description = "A recorded version (sha256:… or a unique prefix of its hex)" };
        var catalog = new Option<bool>("--catalog") { Description = "Print its catalog files too" };
        var restore = new Option<string?>("--restore")
        {
            Description = "Write it back: the policy to this file, its catalog files to the folder the policy names (relative to it); the policy service picks it up",
        };
        var yes = new Option<bool>("--yes") { Description = "Overwrite the files --restore writes without asking" };
        var postgres = Cli.Postgres();
        var command = new Command("show", "Print a recorded policy version exactly as it was in force (the policy file, and with --catalog its catalog files), or restore it.")
        {
            version, catalog, restore, yes, postgres,
        };
        command.SetAction((result, ct) => Cli.Run(async () =>
        {
            await using var dataSource = AuditCli.DataSource(result, postgres);
            var store = new PolicyVersionStore(dataSource);
            var (id, content) = await FindAsync(store, result.GetValue(version)!, ct);

            if (result.GetValue(restore) is { } target)
            {
                if (!result.GetValue(yes))
                    throw new UsageException("--restore overwrites the policy file and its catalog files: add --yes.");
                foreach (var written in Restore(content, target))
                    Cli.Out.MarkupLine($"wrote {Markup.Escape(written)}");
                Cli.Out.MarkupLine($"Version {Markup.Escape(id)} restored; the policy service loads it within its reload interval (docs/policy.md, \"Changing a policy safely\").");
                return Cli.Ok;
            }

            var periods = await store.PeriodsAsync(id, ct);
            Cli.Err.MarkupLine($"[grey]# {Markup.Escape(id)}: " + Markup.Escape(string.Join("; ", periods.Select(p =>
                $"{p.Role} on {p.Instance} {AuditCli.When(Utc(p.FirstSeenAt))} – {AuditCli.When(Utc(p.LastSeenAt))}"))) + "[/]");
            Cli.Out.Profile.Out.Writer.Write(content.Policy);
            if (result.GetValue(catalog))
                foreach (var (name, text) in content.Catalog)
                {
                    Cli.Out.Profile.Out.Writer.WriteLine($"\n# ---- catalog file {name} (folder '{content.CatalogFolder}') ----");
                    Cli.Out.Profile.Out.Writer.Write(text);
                }
            else if (content.Catalog.Count > 0)
                Cli.Err.MarkupLine($"[grey]# and {content.Catalog.Count} catalog file(s) in '{Markup.Escape(content.CatalogFolder ?? "")}': {Markup.Escape(string.Join(", ", content.Catalog.Keys))} (--catalog prints them)[/]");
            return Cli.Ok;
        }));
        return command;
    }

    /// <summary>"sha256:90848dd8…" or a bare hex prefix of at least 4 digits: what a recorded version's name looks like (anything else is a file name).</summary>
    internal static bool LooksLikeVersion(string name) =>
        System.Text.RegularExpressions.Regex.IsMatch(name, "^(sha256:)?[0-9a-f]{4,64}$");

    /// <summary>A version by id or prefix, with a clear error when none or several match.</summary>
    internal static async Task<(string Version, PolicyVersionContent Content)> FindAsync(PolicyVersionStore store, string version, CancellationToken ct)
    {
        try
        {
            return await store.GetAsync(version, ct)
                   ?? throw new UsageException($"No recorded policy version '{version}' (agentbus policy history lists them).");
        }
        catch (AmbiguousVersionException ex)
        {
            throw new UsageException(ex.Message);
        }
    }

    /// <summary>Loads a recorded version again, or refuses with its errors (a catalog that no longer compiles, say).</summary>
    internal static async Task<PolicySnapshot> LoadVersionAsync(PolicyVersionStore store, string version, CancellationToken ct)
    {
        var (id, content) = await FindAsync(store, version, ct);
        var loaded = content.Load($"policy version {id}");
        if (loaded.Policy is { } policy)
            return policy;
        foreach (var error in loaded.Errors)
            Cli.Error(error);
        throw new PolicyRefusedException(loaded.Errors.Count);
    }

    static IEnumerable<string> Restore(PolicyVersionContent content, string policyPath)
    {
        var policyFile = Path.GetFullPath(policyPath);
        var written = new List<string>();
        if (content.CatalogFolder is { } folder)
        {
            var directory = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(policyFile)!, folder));
            Directory.CreateDirectory(directory);
            foreach (var (name, text) in content.Catalog)
            {
                if (name != Path.GetFileName(name))
                    throw new UsageException($"The stored catalog file name '{name}' is not a plain file name; not restored.");
                written.Add(WriteAtomically(Path.Combine(directory, name), text));
            }
            // A catalog file the version did not have would change it: say so rather than delete someone's file.
            foreach (var extra in AgentBus.Catalog.CatalogLoader.FilesIn(directory).Where(f => !content.Catalog.ContainsKey(Path.GetFileName(f))))
                Cli.Error($"{extra} is not part of this version; remove it, or the policy service loads a different version.");
        }
        // The policy last, so the service sees the whole version when it notices the change.
        written.Add(WriteAtomically(policyFile, content.Policy));
        return written;
    }

    /// <summary>Beside, then renamed: the policy service never reads half a file.</summary>
    static string WriteAtomically(string path, string text)
    {
        var temporary = path + ".restoring";
        File.WriteAllText(temporary, text, new UTF8Encoding(false));
        File.Move(temporary, path, overwrite: true);
        return path;
    }

    sealed record ShadowCount(string CandidateVersion, string LiveVersion, long Agreed, long Disagreed, DateTime FirstAt, DateTime LastAt);

    sealed record ShadowGroup(string LiveDecision, string CandidateDecision, string Kind, string? LiveRule, string? CandidateRule,
        string CandidateReasonCode, long Count, DateTime FirstAt, DateTime LastAt, string Examples, string? Detail);

    public static Command Shadow()
    {
        var since = AuditCli.Since("7d");
        var candidate = new Option<string?>("--candidate") { Description = "Only this candidate version (sha256:… or a prefix)" };
        var examples = new Option<int>("--examples") { Description = "Action ids shown per group", DefaultValueFactory = _ => 3 };
        var postgres = Cli.Postgres();
        var json = AuditCli.AsJson();
        var command = new Command("shadow",
            "How the shadow candidate (Policy:ShadowFile) decided beside the live policy: agreement per version pair, and every disagreement grouped by (live → candidate, rule).")
        {
            since, candidate, examples, postgres, json,
        };
        command.SetAction((result, ct) => Cli.Run(async () =>
        {
            var now = DateTimeOffset.UtcNow;
            var from = AuditCli.Time(result.GetValue(since), "--since", now) ?? now.AddDays(-7);
            var only = result.GetValue(candidate) is { } c ? (c.StartsWith("sha256:", StringComparison.Ordinal) ? c : "sha256:" + c) : null;
            var perGroup = Math.Clamp(result.GetValue(examples), 0, 50);
            await using var dataSource = AuditCli.DataSource(result, postgres);
            await using var connection = await dataSource.OpenConnectionAsync(ct);
            var counts = (await connection.QueryAsync<ShadowCount>(new CommandDefinition("""
                SELECT candidate_version AS CandidateVersion, live_version AS LiveVersion, agreed AS Agreed, disagreed AS Disagreed,
                       first_at AS FirstAt, last_at AS LastAt
                  FROM policy_shadow_counts
                 WHERE last_at >= @From AND (CAST(@Only AS text) IS NULL OR starts_with(candidate_version, @Only))
                 ORDER BY last_at DESC
                """, new { From = from, Only = only }, cancellationToken: ct))).ToList();
            var groups = (await connection.QueryAsync<ShadowGroup>(new CommandDefinition("""
                SELECT live_decision AS LiveDecision, candidate_decision AS CandidateDecision, kind AS Kind, live_rule AS LiveRule,
                       candidate_rule AS CandidateRule, candidate_reason_code AS CandidateReasonCode, count(*) AS Count,
                       min(decided_at) AS FirstAt, max(decided_at) AS LastAt,
                       array_to_string((array_agg(action_id ORDER BY decided_at DESC))[1:@PerGroup], ' ') AS Examples,
                       (array_agg(detail ORDER BY decided_at DESC))[1] AS Detail
                  FROM policy_shadow_disagreements
                 WHERE decided_at >= @From AND (CAST(@Only AS text) IS NULL OR starts_with(candidate_version, @Only))
                 GROUP BY live_decision, candidate_decision, kind, live_rule, candidate_rule, candidate_reason_code
                 ORDER BY count(*) DESC
                """, new { From = from, Only = only, PerGroup = perGroup }, cancellationToken: ct))).ToList();

            if (result.GetValue(json))
            {
                AuditCli.WriteJson(new { counts, disagreements = groups });
                return Cli.Ok;
            }
            if (counts.Count == 0)
            {
                Cli.Out.MarkupLine($"No shadow candidate decided anything since {AuditCli.When(from)} UTC (set Policy:ShadowFile on the policy service).");
                return Cli.Ok;
            }
            var totals = new Table().AddColumns("candidate", "live", "decided", "agreed", "disagreed", "agreement", "from (UTC)", "to (UTC)");
            foreach (var count in counts)
            {
                var decided = count.Agreed + count.Disagreed;
                totals.AddRow(Markup.Escape(count.CandidateVersion), Markup.Escape(count.LiveVersion), $"{decided}", $"{count.Agreed}", $"{count.Disagreed}",
                    AuditCli.Percent(decided == 0 ? null : (decimal)count.Agreed / decided), AuditCli.When(Utc(count.FirstAt)), AuditCli.When(Utc(count.LastAt)));
            }
            Cli.Out.Write(totals);
            if (groups.Count == 0)
            {
                Cli.Out.MarkupLine("The candidate agreed with the live policy on every proposal.");
                return Cli.Ok;
            }
            var table = new Table().AddColumns("live → candidate", "kind", "live rule", "candidate rule (reason)", "count", "last (UTC)", "examples", "detail");
            foreach (var group in groups)
                table.AddRow(Markup.Escape($"{group.LiveDecision} → {group.CandidateDecision}"), Markup.Escape(group.Kind), Markup.Escape(group.LiveRule ?? ""),
                    Markup.Escape($"{group.CandidateRule} ({group.CandidateReasonCode})"), $"{group.Count}", AuditCli.When(Utc(group.LastAt)),
                    Markup.Escape(group.Examples), Markup.Escape(AuditCli.Cut(group.Detail, 100) ?? ""));
            Cli.Out.Write(table);
            Cli.Out.MarkupLine("An example's whole story: agentbus audit events --action ACTION_ID");
            return Cli.Ok;
        }));
        return command;
    }

    static string When(DateTime? at) => at is { } t ? AuditCli.When(Utc(t)) : "";

    static DateTimeOffset Utc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));
}
