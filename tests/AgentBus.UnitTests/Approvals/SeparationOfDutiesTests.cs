using AgentBus.Approvals.Approvers;
using AgentBus.Approvals.Saga;
using AgentBus.Contracts;

namespace AgentBus.UnitTests.Approvals;

/// <summary>Who may never approve an action: its agent, its owner, its team; names compared normalized.</summary>
public sealed class SeparationOfDutiesTests
{
    const string Fullwidth = "\uFF53\uFF55\uFF50\uFF50\uFF4F\uFF52\uFF54-\uFF42\uFF4F\uFF54";

    static ApprovalState Approval() => new()
    {
        CorrelationId = Guid.NewGuid(),
        CurrentState = ApprovalStatus.Pending,
        AgentId = "support-bot",
        AgentTeam = "support",
        RequestedBy = "sam",
        ExcludedApprovers = ["sam", "tina"],
        ApproverGroup = "payments-approvers",
        Quorum = 1,
        ExpiresAt = DateTimeOffset.UtcNow.AddHours(1),
    };

    [Theory]
    [InlineData("support-bot")]
    [InlineData("Support-Bot")]
    [InlineData(" support-bot \t")]
    [InlineData(Fullwidth)]
    [InlineData("sam")]
    [InlineData("Tina ")]
    public void The_agent_its_owner_and_its_team_cannot_approve_whatever_the_spelling(string approver)
    {
        var step = ApprovalRules.Eligibility(Approval(), approver, ["payments-approvers"]);

        Assert.NotNull(step);
        Assert.Equal((ApprovalVoteOutcome.Forbidden, ApprovalReasonCodes.SeparationOfDuties), (step.Outcome, step.ReasonCode));
    }

    [Fact]
    public void A_vote_by_the_agents_own_name_is_forbidden_and_changes_nothing()
    {
        var approval = Approval();
        var step = ApprovalRules.Vote(approval, new ApprovalVoteCast(approval.CorrelationId, Guid.NewGuid(), "Support-Bot", ["payments-approvers"],
            ApprovalVerdict.Approve, null, DateTimeOffset.UtcNow), DateTimeOffset.UtcNow);

        Assert.Equal(ApprovalVoteOutcome.Forbidden, step.Outcome);
        Assert.Null(step.MoveTo);
    }

    [Fact]
    public void Someone_else_in_the_group_may_approve() =>
        Assert.Null(ApprovalRules.Eligibility(Approval(), "bob", ["payments-approvers"]));

    [Theory]
    [InlineData("Support-Bot ", "support-bot")]
    [InlineData(Fullwidth, "support-bot")]
    [InlineData("Olga@Example.com", "olga@example.com")]
    public void Names_normalize_to_one_form(string name, string normalized)
    {
        Assert.Equal(normalized, ApprovalRules.Normalize(name));
        Assert.Equal(normalized, ApproverStore.ValidName(name));
    }

    [Fact]
    public void The_agent_ids_of_a_policy_file_are_read_normalized_and_looked_up_in_any_spelling()
    {
        var file = Path.Combine(Path.GetTempPath(), $"agentbus-agents-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(file, """
            agents:
              - id: support-bot
                team: support
                owner: sam
              - { id: Intern-Bot, team: support }
            grants:
              - { id: no-such-tool-here, agent: support-bot, tool: nothing }
            """);
        try
        {
            Assert.Equal(["intern-bot", "support-bot"], AgentNames.Read(file).Order(StringComparer.Ordinal));
            var agents = new AgentNames(file);
            Assert.Equal("support-bot", agents.AgentNamed(Fullwidth));
            Assert.Equal("intern-bot", agents.AgentNamed(" intern-bot"));
            Assert.Null(agents.AgentNamed("sam"));
            Assert.Null(new AgentNames(null).AgentNamed("support-bot"));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void The_repositorys_policy_agents_are_known()
    {
        var agents = AgentNames.Read(Path.Combine(RepoRoot.Path, "ops/policies/policy.yaml"));
        Assert.Contains("support-bot", agents);
    }
}
