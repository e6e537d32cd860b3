using AgentBus.Contracts;

namespace AgentBus.UnitTests.Messaging;

public class MessageIdsTests
{
    [Fact]
    public void The_same_step_of_the_same_action_always_gets_the_same_id() =>
        Assert.Equal(MessageIds.For("a:1", "ActionDecided"), MessageIds.For("a:1", "ActionDecided"));

    [Fact]
    public void Different_steps_or_actions_get_different_ids()
    {
        Assert.NotEqual(MessageIds.For("a:1", "ActionDecided"), MessageIds.For("a:1", "ExecuteTool"));
        Assert.NotEqual(MessageIds.For("a:1", "ActionDecided"), MessageIds.For("a:2", "ActionDecided"));
    }

    [Fact]
    public void Ids_are_well_formed_version_8_uuids()
    {
        var text = MessageIds.For("a:1", "x").ToString();
        Assert.Equal('8', text[14]);
        Assert.Contains(text[19], "89ab");
    }

    [Fact]
    public void An_actions_outcome_refusal_decision_and_command_never_share_an_id()
    {
        Guid[] ids =
        [
            MessageIds.ActionDecided("a", "1"), MessageIds.FinalDecision("a", "1"), MessageIds.ExecuteTool("a", "1"),
            MessageIds.ExecutionStarted("a", "1", "t"), MessageIds.ActionOutcome("a", "1", "t"), MessageIds.ActionRefusal("a", "1", "t"),
            MessageIds.Approval("a", "1"),
        ];
        Assert.Equal(ids.Length, ids.Distinct().Count());
    }

    [Fact]
    public void A_run_report_keeps_the_id_agents_already_derive_for_it()
    {
        // What the .NET client computed before the catalogue existed: SHA-256 of "agentbus\nRunCompleted\n{agent}:{run}".
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes("agentbus\nRunCompleted\nagent-a:run-1"));
        hash[6] = (byte)((hash[6] & 0x0F) | 0x80);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        Assert.Equal(new Guid(hash.AsSpan(0, 16), bigEndian: true), MessageIds.RunCompleted("agent-a", "run-1"));
    }
}
