using System.Text;
using System.Text.Json;
using AgentBus.Cli.Replay;
using AgentBus.Contracts;
using AgentBus.Policy.Engine;

namespace AgentBus.UnitTests.PolicyChanges;

/// <summary>The pure parts of changing policy like code: comparing decisions, versions stored and loaded again, what replay can read.</summary>
public sealed class PolicyChangeRulesTests : IDisposable
{
    readonly string _folder = Directory.CreateTempSubdirectory("agentbus-policy-change-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    static PolicyDecision Allowed(int perMinute = 60, decimal perRun = 1m) =>
        new(Decision.Allowed, ReasonCodes.Allowed, "ok", "grant")
        {
            Terms = new AdmissionTerms("grant", 0.01m, new RuleLimit<int>(perMinute, "limits.default.callsPerMinute"), null, null, null, null, null,
                new RuleLimit<decimal>(perRun, "budgets.default.perRunUsd")),
        };

    [Fact]
    public void Decisions_agree_or_differ_in_decision_rule_or_terms()
    {
        Assert.Equal((DecisionComparison.Agreed, null), DecisionComparison.Compare(Allowed(), Allowed()));
        Assert.Equal(DecisionComparison.Decision, DecisionComparison.Compare(Allowed(), PolicyDecision.Deny(ReasonCodes.NoGrant, "no", "default-deny")).Kind);
        Assert.Equal(DecisionComparison.Rule,
            DecisionComparison.Compare(PolicyDecision.Deny(ReasonCodes.NoGrant, "no", "default-deny"), PolicyDecision.Deny(ReasonCodes.ConstraintViolated, "no", "g/constraints/c")).Kind);

        var (kind, detail) = DecisionComparison.Compare(Allowed(), Allowed(perMinute: 10, perRun: 0.5m));
        Assert.Equal(DecisionComparison.Terms, kind);
        Assert.Equal("agent calls per minute 60 → 10; budget per run USD 1 → 0.5", detail);
        Assert.Equal("approval→allowed", DecisionComparison.Transition(Decision.ApprovalRequired, Decision.Allowed));
    }

    [Fact]
    public void A_version_is_captured_with_its_catalog_and_loads_again_to_the_same_version_from_anywhere()
    {
        var policies = Directory.CreateDirectory(Path.Combine(_folder, "policies")).FullName;
        var catalog = Directory.CreateDirectory(Path.Combine(_folder, "catalog")).FullName;
        foreach (var file in Directory.GetFiles(Path.Combine(RepoRoot.Path, "ops", "catalog")))
            File.Copy(file, Path.Combine(catalog, Path.GetFileName(file)));
        var policyFile = Path.Combine(policies, "policy.yaml");
        File.WriteAllText(policyFile, File.ReadAllText(Path.Combine(RepoRoot.Path, "ops", "policies", "policy.yaml")));
        var live = PolicyLoader.LoadFile(policyFile).Policy!;

        var content = PolicyVersionContent.Capture(live)!;
        Assert.Equal("../catalog", content.CatalogFolder);
        Assert.Equal(["payments.yaml", "ticketing.yaml"], content.Catalog.Keys);

        var roundTripped = JsonSerializer.Deserialize<PolicyVersionContent>(JsonSerializer.Serialize(content))!;
        Directory.Delete(catalog, recursive: true);
        Assert.Equal(live.Version, roundTripped.Load("stored").Policy!.Version);

        // Changed on disk since it was loaded: that content is not this version.
        File.AppendAllText(policyFile, "\n# edited\n");
        Assert.Null(PolicyVersionContent.Capture(live));

        var hostile = content with { Catalog = new Dictionary<string, string> { ["../../etc/passwd"] = "x" } };
        Assert.Contains("not a plain file name", hostile.Load("stored").Errors.Single());
    }

    static RecordedProposal Recorded(string payload, byte[]? raw = null, string outcome = "proposed") =>
        new(1, Guid.NewGuid(), DateTime.UtcNow, "support-bot", "a1", "payments", outcome, payload, raw, "allowed", "allowed", "g", "sha256:1", null);

    const string Proposal = """{"actionId":"0193e3c2-6f1a-7c3b-9d4e-2a1b3c4d5e6f","runId":"r","agentId":"support-bot","tool":"payments","operation":"refund","arguments":{"orderId":"ORD-1001","amountUsd":5}}""";

    [Fact]
    public void Replay_reads_the_raw_copy_first_and_never_decides_on_a_mask()
    {
        Assert.Equal("refund", Recorded(Proposal).Read().Proposal!.Operation);

        var redacted = Proposal.Replace("\"ORD-1001\"", "\"[redacted]\"", StringComparison.Ordinal);
        Assert.Equal("arguments redacted and the raw copy expired", Recorded(redacted).Read().NotReplayable);
        Assert.Equal(5, Recorded(redacted, Encoding.UTF8.GetBytes(Proposal)).Read().Proposal!.Arguments.GetProperty("amountUsd").GetInt32());

        Assert.StartsWith("malformed", Recorded("{}", outcome: "malformed").Read().NotReplayable);
        Assert.Equal("raw copy is not UTF-8", Recorded(Proposal, [0xff, 0xfe]).Read().NotReplayable);
        Assert.Contains("does not read as a proposal", Recorded("[1,2]").Read().NotReplayable);
    }
}
