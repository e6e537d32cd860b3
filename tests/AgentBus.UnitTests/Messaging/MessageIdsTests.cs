using AgentBus.ServiceDefaults.Messaging;

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
}
