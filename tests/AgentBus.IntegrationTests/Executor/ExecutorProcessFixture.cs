using AgentBus.IntegrationTests.Infrastructure;

namespace AgentBus.IntegrationTests.Executor;

/// <summary>The pipeline without an in-process ticketing executor: tests run it as child processes they can kill.</summary>
public sealed class ExecutorProcessFixture : PipelineFixture
{
    protected override IReadOnlyList<string> InProcessExecutors => ["payments"];

    public object Ticket(string title, string query = "") =>
        new { method = "POST", url = new Uri(SandboxUrl, "/ticketing/tickets" + query).ToString(), body = new { title } };
}

[CollectionDefinition(Name)]
public sealed class ExecutorProcessCollection : ICollectionFixture<ExecutorProcessFixture>
{
    public const string Name = "executor-process";
}
